/**
 * The WebSocket /v1/stream, which autocannon does not speak: each worker keeps one socket
 * (reopened when it closes) and has one request on it at a time. The first `step` message
 * (the first tokens unmasked) and the final `done` are timed from when the request was due.
 */
import { WebSocket } from 'ws';
import { z } from 'zod';
import { type EntryLoad, type EntryRun, runLoadLoop, transportCode } from './load.js';
import { requestBody } from './mix.js';
import { envelopeError, failureOf, outcomeOf, parseJson } from './responses.js';
import { TRANSPORT_CODES } from './tally.js';
import { describeFailure, isServerGone } from './target.js';

/** Every server message names its type and id; the rest is read where the type says what it holds. */
const StreamMessageSchema = z.looseObject({ type: z.string(), id: z.string().nullable() });
type StreamMessage = z.infer<typeof StreamMessageSchema>;

/** An upgrade the server answered with an HTTP error (401 without the key, say). */
class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`the upgrade was answered with ${status}`);
  }
}

export async function runWebSocketEntry(load: EntryLoad): Promise<EntryRun> {
  const url = load.target.endpoint(load.entry.endpoint, true);
  const sockets: (StreamSocket | undefined)[] = [];
  let requestNumber = 0;
  try {
    return await runLoadLoop(load, async (worker, scheduledAt, windowSignal) => {
      const id = String(requestNumber++);
      const signal = AbortSignal.any([windowSignal, AbortSignal.timeout(load.timeoutS * 1000)]);
      try {
        const socket = sockets[worker]?.isOpen ? (sockets[worker] as StreamSocket) : await StreamSocket.open(url, load.target.headers, signal);
        sockets[worker] = socket;
        await request(load, socket, id, scheduledAt, signal);
      } catch (error) {
        if (windowSignal.aborted) return;
        if (error instanceof UpgradeRefused) {
          const failure = failureOf(error.status, error.body);
          load.tally.failure(failure.status, failure.code, failure.message);
        } else if (isServerGone(error)) load.serverGone(error);
        else load.tally.failure(null, transportCode(error), describeFailure(error));
      }
    });
  } finally {
    for (const socket of sockets) socket?.close();
  }
}

/** Sends one generate message and counts what its id ends with; an abort cancels it on the server. */
async function request(load: EntryLoad, socket: StreamSocket, id: string, scheduledAt: number, signal: AbortSignal): Promise<void> {
  let firstEventMs: number | undefined;
  const final = await socket.exchange({ type: 'generate', id, ...requestBody(load.entry, load.nextSeed()) }, signal, (message) => {
    if (message.type === 'step') firstEventMs ??= performance.now() - scheduledAt;
  });
  const sinceDue = performance.now() - scheduledAt;
  if (final.type === 'done') {
    const outcome = outcomeOf('generation', final);
    if (outcome === undefined) load.tally.failure(null, TRANSPORT_CODES.badAnswer, 'a done message without stats');
    else load.tally.success(outcome, { latencyMs: sinceDue, firstEventMs: firstEventMs ?? sinceDue });
    return;
  }
  const error = envelopeError(final);
  load.tally.failure(null, error?.code ?? final.type, error?.message ?? `the request ended with ${final.type}`);
}

/** One socket with at most one request in flight. */
class StreamSocket {
  private onMessage: ((message: StreamMessage) => void) | undefined;
  private onClose: ((error: Error) => void) | undefined;

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const message = StreamMessageSchema.safeParse(parseJson(data.toString()));
      if (message.success) this.onMessage?.(message.data);
    });
    // An error after the handshake is followed by close, which fails the request in flight.
    socket.on('error', () => undefined);
    socket.on('close', (code) => this.onClose?.(new Error(`the socket closed (${code})`)));
  }

  static open(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<StreamSocket> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const socket = new WebSocket(url, { headers });
      const abort = () => {
        socket.terminate();
        reject(signal.reason);
      };
      signal.addEventListener('abort', abort, { once: true });
      const settle = (outcome: () => void) => {
        signal.removeEventListener('abort', abort);
        outcome();
      };
      socket.once('open', () => settle(() => resolve(new StreamSocket(socket))));
      socket.once('error', (error) => settle(() => reject(error)));
      socket.once('unexpected-response', (_request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () =>
          settle(() => {
            socket.terminate();
            reject(new UpgradeRefused(response.statusCode ?? 0, body));
          }),
        );
        response.on('error', (error) => settle(() => reject(error)));
      });
    });
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Sends `message` and resolves with the final message of its id (done, error or cancelled). */
  exchange(message: { id: string } & Record<string, unknown>, signal: AbortSignal, onEvent: (message: StreamMessage) => void): Promise<StreamMessage> {
    return new Promise((resolve, reject) => {
      const finish = (outcome: () => void) => {
        this.onMessage = undefined;
        this.onClose = undefined;
        signal.removeEventListener('abort', abort);
        outcome();
      };
      const abort = () => {
        if (this.isOpen) this.socket.send(JSON.stringify({ type: 'cancel', id: message.id }));
        finish(() => reject(signal.reason));
      };
      this.onMessage = (received) => {
        if (received.id !== message.id) return;
        if (received.type === 'done' || received.type === 'error' || received.type === 'cancelled') finish(() => resolve(received));
        else onEvent(received);
      };
      this.onClose = (error) => finish(() => reject(error));
      signal.addEventListener('abort', abort, { once: true });
      this.socket.send(JSON.stringify(message));
    });
  }

  close(): void {
    this.socket.terminate();
  }
}
