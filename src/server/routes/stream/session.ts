/**
 * One WebSocket of /v1/stream: its requests in flight, and the messages it sends in order
 * through its outbox.
 */
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { once } from 'node:events';
import { type RawData, WebSocket } from 'ws';
import { generateRequest, generateResponse, outputParam } from '../../../api/index.js';
import { ErrorCodes, MdlmError, fieldError } from '../../../errors.js';
import type { GenerateResult, GenerationStart, GenerationStats, PreparedGeneration } from '../../../generation/index.js';
import { type StepEvent, applyStepEvent } from '../../../sampling/index.js';
import { within } from '../../../util/within.js';
import type { ServerContext } from '../../context.js';
import { envelope, toApiError, validationError } from '../../errors.js';
import { recordRequest } from '../../plugins/request-log.js';
import { prepareWithinLimits } from '../common/limits.js';
import { Outbox, type PendingStep } from './outbox.js';
import { type DoneMessage, type StepMessage, type StreamGenerateMessage, type StreamServerMessage, streamClientMessageSchema } from './schemas.js';
import type { ClosableSession } from './sessions.js';

export const STREAM_ENDPOINT = '/v1/stream';
/** 1001 "going away": the server is shutting down. */
const CLOSE_GOING_AWAY = 1001;

/** A request of this socket, from its generate message until its final message went out. */
interface StreamRequest {
  controller: AbortController;
  start: GenerationStart | undefined;
  /** Each sample's output so far (step messages carry its text). */
  outputs: number[][];
}

export class StreamSession implements ClosableSession {
  private readonly requests = new Map<string, StreamRequest>();
  private readonly outbox: Outbox<StreamServerMessage>;

  constructor(
    private readonly socket: WebSocket,
    private readonly request: FastifyRequest,
    private readonly context: ServerContext,
    private readonly messageSchema: ReturnType<typeof streamClientMessageSchema>,
  ) {
    this.outbox = new Outbox<StreamServerMessage>(socket, context.config.limits.streamHighWaterMark);
    socket.on('message', (data, isBinary) => this.receive(data, isBinary));
  }

  cancelAll(): void {
    for (const request of this.requests.values()) request.controller.abort();
  }

  /** Resolves to whether the client completed the close handshake in time (else the socket is cut). */
  async close(graceMs: number): Promise<boolean> {
    if (this.socket.readyState === WebSocket.CLOSED) return true;
    const closed = once(this.socket, 'close');
    this.outbox.drain();
    this.socket.close(CLOSE_GOING_AWAY, 'server shutting down');
    const inTime = await within(closed, graceMs);
    if (!inTime) this.socket.terminate();
    return inTime;
  }

  private receive(data: RawData, isBinary: boolean): void {
    let raw: unknown;
    try {
      if (isBinary) throw new Error('binary frame');
      raw = JSON.parse(data.toString());
    } catch {
      this.sendError(null, new MdlmError(ErrorCodes.validation, 'a message must be a JSON text frame'));
      return;
    }
    const parsed = this.messageSchema.safeParse(raw);
    if (!parsed.success) {
      this.sendError(idOf(raw), validationError(parsed.error.issues, 'the message'));
      return;
    }
    const message = parsed.data;
    if (message.type === 'cancel') this.requests.get(message.id)?.controller.abort();
    else void this.generate(message);
  }

  private async generate(message: StreamGenerateMessage): Promise<void> {
    const { id } = message;
    if (this.requests.has(id)) {
      this.sendError(id, fieldError(ErrorCodes.duplicateId, 'id', `a request with id ${JSON.stringify(id)} is already in flight on this socket; this message was ignored`));
      return;
    }
    const { maxSocketRequests } = this.context.config.limits;
    if (this.requests.size >= maxSocketRequests) {
      this.sendError(id, new MdlmError(ErrorCodes.overloaded, `this socket already has ${maxSocketRequests} requests in flight or undelivered; wait for one to finish`));
      return;
    }
    const state: StreamRequest = { controller: new AbortController(), start: undefined, outputs: [] };
    this.requests.set(id, state);
    const began = performance.now();
    let outcome = 'ok';
    let stats: GenerationStats | undefined;
    let final: StreamServerMessage;
    try {
      const { service, config } = this.context;
      const prepared = prepareWithinLimits(service, generateRequest(message), config.limits, outputParam(message));
      const result = await service.generate(prepared, {
        signal: state.controller.signal,
        onStart: (start) => this.started(message, state, prepared, start),
        onStep: (sample, event) => this.step(message, state, sample, event),
      });
      stats = result.stats;
      final = this.done(id, prepared, result, message.stop_at_eos ?? false);
    } catch (error) {
      const api = toApiError(error);
      outcome = api.code;
      final = api.code === ErrorCodes.cancelled ? { type: 'cancelled', id } : { type: 'error', id, ...envelope(api) };
    }
    this.outbox.push(final, () => this.requests.delete(id));
    recordRequest(this.log.child({ stream_id: id }), this.context.metrics, { endpoint: STREAM_ENDPOINT, outcome, durationMs: performance.now() - began, stats });
  }

  private started(message: StreamGenerateMessage, state: StreamRequest, prepared: PreparedGeneration, start: GenerationStart): void {
    state.start = start;
    const tokens = start.initialTokenIds;
    this.outbox.push({
      type: 'started',
      id: message.id,
      seed: start.seed,
      prompt_tokens: prepared.promptTokens,
      suffix_tokens: prepared.suffixTokens,
      output_length: tokens.length,
      mask_id: this.context.service.model.maskId,
      token_ids: tokens,
      ...this.text(message, tokens),
    });
  }

  private step(message: StreamGenerateMessage, state: StreamRequest, sample: number, event: StepEvent): void {
    const output = (state.outputs[sample] ??= [...(state.start as GenerationStart).initialTokenIds]);
    applyStepEvent(output, event, this.context.service.model.maskId);
    this.outbox.pushStep(`${sample}:${message.id}`, event, (step: PendingStep): StepMessage => ({
      type: 'step',
      id: message.id,
      sample,
      round: step.latest.round,
      step: step.latest.step,
      t: step.latest.t,
      forward_passes: step.latest.forwardPasses,
      positions: [...step.changes.keys()],
      token_ids: [...step.changes.values()],
      remasked: [...step.remasked],
      ...this.text(message, output),
    }));
  }

  private done(id: string, prepared: PreparedGeneration, result: GenerateResult, stopAtEos: boolean): DoneMessage {
    const { samples, stats } = generateResponse(id, this.context.modelId, this.context.service, prepared, result, stopAtEos);
    return { type: 'done', id, samples, stats };
  }

  private text(message: StreamGenerateMessage, tokens: readonly number[]): { text?: string } {
    return message.decode_text ? { text: this.context.service.decode(tokens, { maskText: message.mask_text }) } : {};
  }

  /**
   * Refuses a message that started no request. Its error is the final message of its id,
   * unless a request under that id is in flight: that one still ends with its own final
   * message, so the refusal carries id null and names the id in rejected_id instead.
   */
  private sendError(id: string | null, error: MdlmError): void {
    const api = toApiError(error);
    recordRequest(this.log, this.context.metrics, { endpoint: STREAM_ENDPOINT, outcome: api.code, durationMs: 0 });
    const ids = id !== null && this.requests.has(id) ? { id: null, rejected_id: id } : { id };
    this.outbox.push({ type: 'error', ...ids, ...envelope(api) });
  }

  private get log(): FastifyBaseLogger {
    return this.request.log;
  }
}

function idOf(raw: unknown): string | null {
  const id = (raw as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : null;
}
