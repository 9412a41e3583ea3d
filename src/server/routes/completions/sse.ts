import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';

/**
 * A server-sent-event body. Writes after the client went away (the body is then destroyed)
 * are dropped. Its size is bounded by what the stream carries in all: completion deltas
 * only append, so a slow reader buffers at most the choices' text.
 */
/** Events whose data are `Event`s, as JSON. */
export class EventStream<Event> {
  private readonly body = new PassThrough();

  send(data: Event): void {
    this.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** OpenAI's end-of-stream marker, then the end of the body. */
  done(): void {
    this.write('data: [DONE]\n\n');
    this.end();
  }

  end(): void {
    if (!this.body.destroyed) this.body.end();
  }

  /** Starts the response: headers now, events as they are sent. */
  reply(reply: FastifyReply): FastifyReply {
    return reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-cache')
      // Proxies such as nginx would otherwise hold events back.
      .header('x-accel-buffering', 'no')
      .send(this.body);
  }

  private write(text: string): void {
    if (!this.body.destroyed && !this.body.writableEnded) this.body.write(text);
  }
}
