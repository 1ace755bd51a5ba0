/**
 * Server-sent events as the OpenAI-compatible servers stream them: cut into events without
 * touching their bytes, so what the agent relays is exactly what the upstream sent.
 */

export interface SseEvent {
  /** The event's bytes exactly as received, its terminating blank line included. */
  readonly raw: Buffer;
  /** Its `data:` lines joined, or null if it has none (a comment, a keep-alive). */
  readonly data: string | null;
  /** When its first byte arrived (performance.now()). */
  readonly startedAt: number;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Cuts an SSE byte stream into events without touching their bytes, so what is relayed is what
 * the upstream sent. Lines end in CRLF, LF or CR; an event ends with a blank line.
 */
export class SseSplitter {
  private buffer = Buffer.alloc(0);
  private headStartedAt = 0;

  push(chunk: Uint8Array, at: number): SseEvent[] {
    if (this.buffer.length === 0) this.headStartedAt = at;
    this.buffer = this.buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffer, chunk]);
    const events: SseEvent[] = [];
    for (let end = eventEnd(this.buffer, false); end > 0; end = eventEnd(this.buffer, false)) {
      events.push(toEvent(this.buffer.subarray(0, end), this.headStartedAt));
      this.buffer = this.buffer.subarray(end);
      this.headStartedAt = at; // what is left arrived with this chunk
    }
    return events;
  }

  /** The rest, when the stream has ended (an unterminated last event is passed on as it is). */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    for (let end = eventEnd(this.buffer, true); end > 0; end = eventEnd(this.buffer, true)) {
      events.push(toEvent(this.buffer.subarray(0, end), this.headStartedAt));
      this.buffer = this.buffer.subarray(end);
    }
    if (this.buffer.length > 0) events.push(toEvent(this.buffer, this.headStartedAt));
    this.buffer = Buffer.alloc(0);
    return events;
  }
}

/** The index just past the blank line that ends the first event, or -1 if none is complete. */
function eventEnd(buffer: Buffer, final: boolean): number {
  let lineStart = 0;
  for (let i = 0; i < buffer.length; ) {
    const byte = buffer[i];
    if (byte !== LF && byte !== CR) {
      i += 1;
      continue;
    }
    let next = i + 1;
    if (byte === CR) {
      if (next >= buffer.length && !final) return -1; // a CRLF may be split across chunks
      if (buffer[next] === LF) next += 1;
    }
    if (i === lineStart) return next;
    lineStart = next;
    i = next;
  }
  return -1;
}

function toEvent(raw: Buffer, startedAt: number): SseEvent {
  const data: string[] = [];
  for (const line of raw.toString('utf8').split(/\r\n|\r|\n/)) {
    if (line === 'data' || line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  return { raw: Buffer.from(raw), data: data.length > 0 ? data.join('\n') : null, startedAt };
}
