/**
 * Request seeds. Each mix entry draws its requests' seeds from its own seeded stream, restarted
 * at every level: the n requests an entry completes are the same n requests whatever order
 * its connections took them in, in every run and at every level. Warm-up requests draw from
 * streams of their own, so that a warm-up of whatever length leaves the measured ones alone.
 */
import { SeededRandom } from '../random.js';

export type SeedSource = () => number;

export type Phase = 'warmup' | 'measured';

/** One seed stream per entry for a phase of a level. */
export function seedSources(seed: number, entries: number, phase: Phase): SeedSource[] {
  const streams = SeededRandom.streams(seed, 2 * entries);
  const offset = phase === 'measured' ? 0 : entries;
  return Array.from({ length: entries }, (_, index) => {
    const stream = streams[offset + index] as SeededRandom;
    return () => Math.floor(stream.uniform() * 2 ** 32);
  });
}
