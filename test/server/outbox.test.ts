/** The WebSocket outbox alone, over a stand-in socket whose buffer the test controls. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import type { StepEvent } from '../../src/sampling/index.js';
import { Outbox, type PendingStep } from '../../src/server/routes/stream/outbox.js';

class StandInSocket {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  readonly sent: Record<string, unknown>[] = [];
  private callbacks: (() => void)[] = [];

  send(data: string, callback: () => void): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
    this.callbacks.push(callback);
  }

  /** The client catches up: the buffer empties and every write completes. */
  drainBuffer(): void {
    this.bufferedAmount = 0;
    for (const callback of this.callbacks.splice(0)) callback();
  }
}

function event(step: number, positions: number[], tokens: number[], remasked: number[] = []): StepEvent {
  return { round: 0, step, t: 1 - step / 10, forwardPasses: step + 1, positions, tokens, logprobs: tokens.map(() => 0), top: { tokens: [], logprobs: [], width: 0 }, remasked, settled: true };
}

const render = (pending: PendingStep) => ({ type: 'step', step: pending.latest.step, positions: [...pending.changes.keys()], token_ids: [...pending.changes.values()], remasked: [...pending.remasked] });

test('while the socket keeps up, every message goes out at once, in order', () => {
  const socket = new StandInSocket();
  const outbox = new Outbox(socket as unknown as WebSocket, 100);
  outbox.push({ type: 'started' });
  outbox.pushStep('0:a', event(0, [1], [5]), render);
  outbox.pushStep('0:a', event(1, [2], [6]), render);
  assert.deepEqual(socket.sent.map((message) => message.type), ['started', 'step', 'step']);
});

test('past the high-water mark, steps of one sample merge to their latest tokens; messages that must arrive never merge', () => {
  const socket = new StandInSocket();
  const outbox = new Outbox(socket as unknown as WebSocket, 100);
  socket.bufferedAmount = 1000;
  let delivered = false;
  outbox.push({ type: 'started' });
  outbox.pushStep('0:a', event(0, [1], [5]), render);
  outbox.pushStep('1:a', event(0, [1], [7]), render);
  outbox.pushStep('0:a', event(1, [2, 1], [6, 8]), render);
  outbox.push({ type: 'done' }, () => (delivered = true));
  assert.equal(socket.sent.length, 0, 'nothing is written while the buffer is over the mark');
  socket.drainBuffer();
  outbox.drain();
  assert.deepEqual(socket.sent, [
    { type: 'started' },
    { type: 'step', step: 1, positions: [1, 2], token_ids: [8, 6], remasked: [] },
    { type: 'step', step: 0, positions: [1], token_ids: [7], remasked: [] },
    { type: 'done' },
  ]);
  assert.ok(delivered, 'the final message reports when it was handed to the socket');
});

test('a closed socket is written to no more', () => {
  const socket = new StandInSocket();
  const outbox = new Outbox(socket as unknown as WebSocket, 100);
  socket.readyState = WebSocket.CLOSED;
  outbox.push({ type: 'done' });
  outbox.drain();
  assert.equal(socket.sent.length, 0);
});

test('merged steps keep a remask as the net change: back to the mask, or overwritten by a later draw', () => {
  const socket = new StandInSocket();
  const outbox = new Outbox(socket as unknown as WebSocket, 100);
  socket.bufferedAmount = 1000;
  outbox.pushStep('0:a', event(0, [1, 2], [5, 6]), render);
  outbox.pushStep('0:a', event(1, [3], [7], [1, 2]), render);
  outbox.pushStep('0:a', event(2, [2], [9]), render);
  socket.drainBuffer();
  outbox.drain();
  const [merged] = socket.sent as { positions: number[]; token_ids: number[]; remasked: number[] }[];
  const state = [0, 0, 0, 0];
  for (const position of merged?.remasked ?? []) state[position] = -1;
  merged?.positions.forEach((position, k) => (state[position] = merged.token_ids[k] as number));
  assert.deepEqual(state, [0, -1, 9, 7], 'position 1 ends masked, 2 redrawn, 3 drawn');
});
