/** Waits for `promise` at most `ms` (none when ms ≤ 0): true when it settled in time. Its rejection counts as settling. */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise.then(
      () => true,
      () => true,
    ), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
