/**
 * What a WebSocket sends, in order, without letting a slow reader grow server memory. While
 * the socket keeps up, every message goes out at once. Once more than the high-water mark
 * sits unsent, messages queue, and a step update for a (request, sample) that already has
 * one waiting is merged into it (positions to their latest tokens) instead of queueing
 * another. So the queue holds at most one step update per sample plus the messages that
 * must arrive (started, done, error, cancelled), which are never merged or dropped.
 */
import { WebSocket } from 'ws';
import type { StepEvent } from '../../../sampling/index.js';

/**
 * Every position changed since the last update sent for one sample, and the latest step's
 * facts: each position's latest token, or its return to the mask.
 */
export class PendingStep {
  readonly changes = new Map<number, number>();
  readonly remasked = new Set<number>();
  latest: StepEvent;

  constructor(event: StepEvent) {
    this.latest = event;
    this.merge(event);
  }

  merge(event: StepEvent): void {
    for (const position of event.remasked) {
      this.changes.delete(position);
      this.remasked.add(position);
    }
    event.positions.forEach((position, k) => {
      this.remasked.delete(position);
      this.changes.set(position, event.tokens[k] as number);
    });
    this.latest = event;
  }
}

interface MessageEntry<Message> {
  message: Message;
  onSent?: () => void;
}

interface StepEntry<Message> {
  key: string;
  step: PendingStep;
  /** Builds the message when it is sent, so that derived fields (the text) describe the state it carries. */
  render: (step: PendingStep) => Message;
}

type Entry<Message> = MessageEntry<Message> | StepEntry<Message>;

/** The queue of one socket, whose messages are `Message`s (the stream protocol's). */
export class Outbox<Message extends object = object> {
  private readonly queue: Entry<Message>[] = [];
  private readonly waitingSteps = new Map<string, StepEntry<Message>>();

  constructor(
    private readonly socket: WebSocket,
    private readonly highWaterMark: number,
  ) {}

  /** A message that must arrive. `onSent` runs once it is handed to the socket. */
  push(message: Message, onSent?: () => void): void {
    this.queue.push({ message, onSent });
    this.flush();
  }

  /** A step update for `key` (one sample of one request): sent now, or merged into the one waiting. */
  pushStep(key: string, event: StepEvent, render: (step: PendingStep) => Message): void {
    const waiting = this.waitingSteps.get(key);
    if (waiting !== undefined) {
      waiting.step.merge(event);
      return;
    }
    const entry: StepEntry<Message> = { key, step: new PendingStep(event), render };
    if (this.queue.length === 0 && this.hasRoom()) {
      this.send(entry);
    } else {
      this.queue.push(entry);
      this.waitingSteps.set(key, entry);
    }
  }

  /** Hands everything queued to the socket regardless of its buffer: for closing it. */
  drain(): void {
    while (this.queue.length > 0 && this.socket.readyState === WebSocket.OPEN) this.send(this.queue.shift() as Entry<Message>);
  }

  private hasRoom(): boolean {
    return this.socket.readyState === WebSocket.OPEN && this.socket.bufferedAmount <= this.highWaterMark;
  }

  private flush(): void {
    while (this.queue.length > 0 && this.hasRoom()) this.send(this.queue.shift() as Entry<Message>);
  }

  private send(entry: Entry<Message>): void {
    const isStep = 'key' in entry;
    if (isStep) this.waitingSteps.delete(entry.key);
    const payload = isStep ? entry.render(entry.step) : entry.message;
    // The callback runs once the frame is written out: the buffer shrank, so more may go.
    this.socket.send(JSON.stringify(payload), () => this.flush());
    if (!isStep) entry.onSent?.();
  }
}
