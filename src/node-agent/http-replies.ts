import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The body, or null if it is larger than `max` (the rest is then drained, not kept). */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length']) > max) {
      req.resume();
      resolve(null);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > max) {
        tooLarge = true;
        chunks.length = 0;
        resolve(null);
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('the client closed the connection before sending the whole body'));
    });
  });
}

export function drained(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return Promise.race([once(res, 'drain'), once(res, 'close')]).then(() => undefined);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** An error shaped like OpenAI's, so OpenAI clients surface it as such. */
export function sendError(res: ServerResponse, status: number, type: string, code: string, message: string, headers?: Record<string, string>): void {
  sendJson(res, status, { error: { message, type, param: null, code } }, headers);
}

