/**
 * The scheduler's decisions alone, with stand-in sequences: which rows form a pass, fairness
 * between jobs of different kinds, admission, and bookkeeping. Nothing runs a model here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PassOutput, PassRow, RowResult } from '../../src/runtime/index.js';
import { type ScheduledPass, Scheduler, type SchedulerOptions, type Sequence } from '../../src/scheduler/index.js';

/** A sequence that offers `rows` rows, `parallel` at a time (a sampler: 1; a scorer: many), each with `entries` positions. */
class StandIn implements Sequence {
  applied = 0;
  private issued = 0;
  private inFlight = 0;
  private next: PassRow | undefined;

  constructor(
    readonly name: string,
    private readonly rows: number,
    private readonly parallel: number,
    readonly windowLength = 8,
    private readonly entries = 1,
  ) {}

  get finished(): boolean {
    return this.applied === this.rows;
  }

  peekRow(): PassRow | undefined {
    if (this.issued === this.rows || this.inFlight === this.parallel) return undefined;
    this.next ??= { tokens: new Int32Array(this.windowLength), sigma: 0, draws: { positions: new Int32Array(this.entries), uniforms: new Float64Array(this.entries), temperature: 1, topP: 1, topK: 0 } };
    return this.next;
  }

  takeRow(): PassRow {
    const row = this.peekRow() as PassRow;
    this.next = undefined;
    this.issued += 1;
    this.inFlight += 1;
    return row;
  }

  apply(): void {
    this.inFlight -= 1;
    this.applied += 1;
  }
}

const OPTIONS: SchedulerOptions = { maxBatch: 8, maxBatchEntries: 1000, maxQueue: 10_000, batchWaitMs: 0 };

function run(scheduler: Scheduler, pass: ScheduledPass): void {
  const results = pass.rows.map(() => ({}) as RowResult);
  scheduler.update(pass, { results, computeMs: 1 } satisfies PassOutput);
}

function owners(pass: ScheduledPass): string[] {
  return pass.owners.map((owner) => (owner.sequence as StandIn).name);
}

function nextPass(scheduler: Scheduler): ScheduledPass {
  const decision = scheduler.schedule();
  assert.ok(decision !== undefined && 'pass' in decision, 'a pass is scheduled');
  return decision.pass;
}

test('a large scoring job shares every pass with generation instead of queueing ahead of it', async () => {
  const scheduler = new Scheduler(OPTIONS);
  const scoring = scheduler.admit([new StandIn('score', 1000, 1000)]);
  const samplers = [new StandIn('gen-a', 30, 1), new StandIn('gen-b', 30, 1)];
  const generation = scheduler.admit(samplers);
  let passes = 0;
  while (!samplers.every((sampler) => sampler.finished)) {
    const pass = nextPass(scheduler);
    const names = owners(pass);
    assert.equal(names.filter((name) => name.startsWith('gen')).length, 2, `pass ${passes} carries both samples: ${names}`);
    assert.equal(pass.rows.length, 8, 'the scoring job fills the rest');
    run(scheduler, pass);
    passes += 1;
  }
  assert.equal(passes, 30, 'each sample advanced at every pass');
  assert.equal((await generation.done).forwardPasses, 60);
  while (scheduler.activeSequences > 0) run(scheduler, nextPass(scheduler));
  assert.equal((await scoring.done).forwardPasses, 1000);
});

test('jobs take turns when rows outnumber the pass: a job with many samples cannot starve one with few', () => {
  const scheduler = new Scheduler({ ...OPTIONS, maxBatch: 4 });
  scheduler.admit(Array.from({ length: 16 }, (_, i) => new StandIn(`big-${i}`, 5, 1)));
  scheduler.admit([new StandIn('small', 5, 1)]);
  for (let i = 0; i < 5; i++) {
    const pass = nextPass(scheduler);
    assert.ok(owners(pass).includes('small'), `pass ${i}: ${owners(pass)}`);
    run(scheduler, pass);
  }
});

test('a pass holds rows of one window length; the job served first rotates so other lengths get their turn', () => {
  const scheduler = new Scheduler(OPTIONS);
  scheduler.admit([new StandIn('short', 3, 1, 4)]);
  scheduler.admit([new StandIn('long', 3, 1, 8)]);
  const first = nextPass(scheduler);
  assert.deepEqual(owners(first), ['short']);
  run(scheduler, first);
  const second = nextPass(scheduler);
  assert.deepEqual(owners(second), ['long'], 'the other length goes next');
  for (const row of second.rows) assert.equal(row.tokens.length, 8);
});

test('the entries cap closes a pass, but a single oversized row still runs alone', () => {
  const scheduler = new Scheduler({ ...OPTIONS, maxBatchEntries: 10 });
  scheduler.admit([new StandIn('wide', 2, 2, 8, 25)]);
  scheduler.admit([new StandIn('narrow', 4, 4, 8, 4)]);
  const first = nextPass(scheduler);
  assert.deepEqual(owners(first), ['wide']);
  const second = nextPass(scheduler);
  assert.deepEqual(owners(second), ['narrow', 'narrow'], 'two rows of 4 fit 10; a third does not');
});

test('admission: overloaded past --max-queue, shutting down after stopAccepting, cancelled when already aborted', async () => {
  const scheduler = new Scheduler({ ...OPTIONS, maxQueue: 3 });
  const job = scheduler.admit([new StandIn('a', 1, 1), new StandIn('b', 1, 1)]);
  assert.throws(() => scheduler.admit([new StandIn('c', 1, 1), new StandIn('d', 1, 1)]), { code: 'overloaded' });
  assert.throws(() => scheduler.admit([new StandIn('e', 1, 1)], AbortSignal.abort()), { code: 'cancelled' });
  scheduler.stopAccepting();
  assert.throws(() => scheduler.admit([new StandIn('f', 1, 1)]), { code: 'shutting_down' });
  run(scheduler, nextPass(scheduler));
  await job.done;
  assert.equal(scheduler.activeSequences, 0);
  await scheduler.idle();
});

test('cancelling drops a job at once; its rows in a running pass are ignored when the pass returns', async () => {
  const scheduler = new Scheduler(OPTIONS);
  const controller = new AbortController();
  const sequence = new StandIn('cancelled', 3, 1);
  const job = scheduler.admit([sequence], controller.signal);
  const pass = nextPass(scheduler);
  controller.abort();
  await assert.rejects(job.done, { code: 'cancelled' });
  run(scheduler, pass);
  assert.equal(sequence.applied, 0, 'the result was not applied');
  assert.equal(scheduler.schedule(), undefined, 'nothing is left to schedule');
});

test('a failed pass fails every job with a row in it, and only those', async () => {
  const scheduler = new Scheduler({ ...OPTIONS, maxBatch: 1 });
  const first = scheduler.admit([new StandIn('first', 2, 1)]);
  const second = scheduler.admit([new StandIn('second', 1, 1)]);
  scheduler.failPass(nextPass(scheduler), new Error('boom'));
  await assert.rejects(first.done, /boom/);
  run(scheduler, nextPass(scheduler));
  assert.equal((await second.done).forwardPasses, 1);
});

test('with --batch-wait-ms, a partial batch waits for more rows; a full one, or the end of the wait, runs at once', async () => {
  const scheduler = new Scheduler({ ...OPTIONS, maxBatch: 2, batchWaitMs: 30 });
  scheduler.admit([new StandIn('a', 2, 1)]);
  const decision = scheduler.schedule();
  assert.ok(decision !== undefined && 'waitMs' in decision && decision.waitMs > 0 && decision.waitMs <= 30, JSON.stringify(decision));
  scheduler.admit([new StandIn('b', 1, 1)]);
  const full = nextPass(scheduler);
  assert.deepEqual(owners(full), ['a', 'b'], 'a full batch does not wait');
  run(scheduler, full);
  assert.ok('waitMs' in (scheduler.schedule() ?? {}), 'the next partial batch waits again');
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.deepEqual(owners(nextPass(scheduler)), ['a']);
});

test('a job larger than the whole queue is invalid_argument, not overloaded: retrying could never admit it', () => {
  const scheduler = new Scheduler({ ...OPTIONS, maxQueue: 3 });
  assert.throws(() => scheduler.admit([1, 2, 3, 4].map((n) => new StandIn(`s${n}`, 1, 1))), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'invalid_argument');
    assert.match(error.message, /needs 4 sequences at once; the queue holds at most 3 \(--max-queue\)/);
    return true;
  });
  assert.equal(scheduler.activeSequences, 0, 'nothing was admitted');
});

test('requests waiting and running, as an inference gateway reads them: waiting until their first pass, running until they finish', async () => {
  const scheduler = new Scheduler({ ...OPTIONS, maxBatch: 1, maxQueue: 5 });
  const first = scheduler.admit([new StandIn('first', 2, 1)]);
  scheduler.admit([new StandIn('second', 1, 1), new StandIn('second-b', 1, 1)]);
  assert.deepEqual([scheduler.waitingJobs, scheduler.runningJobs, scheduler.activeSequences, scheduler.capacity], [2, 0, 3, 5]);
  const pass = nextPass(scheduler);
  assert.deepEqual(owners(pass), ['first']);
  assert.deepEqual([scheduler.waitingJobs, scheduler.runningJobs], [1, 1], 'the first request is running, the second still waits');
  run(scheduler, pass);
  assert.deepEqual([scheduler.waitingJobs, scheduler.runningJobs], [1, 1], 'a request between its passes is still running');
  run(scheduler, nextPass(scheduler));
  assert.deepEqual([scheduler.waitingJobs, scheduler.runningJobs], [0, 2]);
  run(scheduler, nextPass(scheduler));
  assert.deepEqual([scheduler.waitingJobs, scheduler.runningJobs, scheduler.activeSequences], [0, 1, 2], 'the first request finished');
  assert.equal((await first.done).forwardPasses, 2);
});
