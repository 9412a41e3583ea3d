/**
 * Streamed completions (server-sent events), which autocannon cannot time event by event:
 * fetch streams each answer, and the first event that carries text and the final
 * `data: [DONE]` are timed from when the request was due.
 */
import { type EntryLoad, type EntryRun, recordAnswer, runLoadLoop, transportCode } from './load.js';
import { requestBody } from './mix.js';
import { envelopeError, outcomeOf, parseJson } from './responses.js';
import { TRANSPORT_CODES } from './tally.js';
import { describeFailure, isServerGone } from './target.js';

const DONE = '[DONE]';

export function runSseEntry(load: EntryLoad): Promise<EntryRun> {
  const url = load.target.endpoint(load.entry.endpoint);
  return runLoadLoop(load, async (_worker, scheduledAt, windowSignal) => {
    const signal = AbortSignal.any([windowSignal, AbortSignal.timeout(load.timeoutS * 1000)]);
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: load.target.headers,
        body: JSON.stringify(requestBody(load.entry, load.nextSeed())),
        signal,
      });
      if (response.status !== 200 || response.body === null) {
        recordAnswer(load.tally, 'completion', response.status, await response.text());
        return;
      }
      await readStream(load, response.body, scheduledAt);
    } catch (error) {
      if (windowSignal.aborted) return;
      if (isServerGone(error)) load.serverGone(error);
      else load.tally.failure(null, transportCode(error), describeFailure(error));
    }
  });
}

/** Reads one stream to its end, counting it as a success or as the failure it reports. */
async function readStream(load: EntryLoad, body: ReadableStream<Uint8Array>, scheduledAt: number): Promise<void> {
  let firstEventMs: number | undefined;
  let tokens: number | undefined;
  for await (const data of eventData(body)) {
    const sinceDue = performance.now() - scheduledAt;
    if (data === DONE) {
      if (tokens === undefined) load.tally.failure(200, TRANSPORT_CODES.badAnswer, 'the stream sent no usage chunk');
      else load.tally.success({ tokens }, { latencyMs: sinceDue, firstEventMs: firstEventMs ?? sinceDue });
      return;
    }
    const event = parseJson(data);
    const error = envelopeError(event);
    if (error !== undefined) {
      load.tally.failure(200, error.code, error.message);
      return;
    }
    const usage = outcomeOf('completion', event);
    if (usage === undefined) firstEventMs ??= sinceDue;
    else tokens = usage.tokens;
  }
  load.tally.failure(200, TRANSPORT_CODES.truncated, 'the stream ended before data: [DONE]');
}

/** The data of each server-sent event, as the events arrive. */
async function* eventData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffered = '';
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    buffered += decoder.decode(chunk.value, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = event
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice('data:'.length).trimStart());
      if (data.length > 0) yield data.join('\n');
    }
  }
}
