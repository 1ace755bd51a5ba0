import { lookup } from 'node:dns/promises';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { addressAllowed, classifyAddress } from './address-policy.js';

/**
 * HTTP calls to addresses that someone outside the exchange chose (providers' node URLs), made
 * so they cannot turn the caller into a proxy: the host is resolved once, every address it
 * resolves to must be public (address-policy.ts) unless private ones are allowed, and the socket
 * connects to the address that was checked (no second lookup a rebinding DNS server could
 * answer differently). Redirects are answers, never followed; every answer is bounded in size
 * and the whole exchange in time.
 */
export interface OutboundRequest {
  readonly method?: 'GET' | 'POST';
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** For the whole exchange: lookup, connect, headers and body. */
  readonly timeoutMs: number;
  /** The body is read up to this many bytes; a longer answer fails (and is read no further). */
  readonly maxBytes: number;
  /** Loopback, private, link-local... addresses: tests and local development only. */
  readonly allowPrivate: boolean;
  /** Resolve at the status line and headers, reading no body (a health probe). */
  readonly discardBody?: boolean;
}

export interface OutboundAnswer {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  header(name: string): string | undefined;
  text(): string;
}

export type OutboundFailure = 'address_refused' | 'too_large' | 'timeout' | 'network';

/** Every failure of an outbound call, with a message fit for stored evidence. */
export class OutboundError extends Error {
  override readonly name = 'OutboundError';
  constructor(
    readonly failure: OutboundFailure,
    message: string,
  ) {
    super(message);
  }
}

/** The one address `hostname` will be reached at, checked; throws OutboundError('address_refused') if any it resolves to is not allowed. */
export async function resolveAllowedAddress(hostname: string, allowPrivate: boolean): Promise<{ address: string; family: 4 | 6 }> {
  const host = hostname.replace(/^\[|\]$/g, '');
  const literal = isIP(host);
  const addresses = literal ? [{ address: host, family: literal }] : await lookup(host, { all: true, verbatim: true }).catch(() => []);
  if (addresses.length === 0) throw new OutboundError('network', `${host} does not resolve`);
  // All of them, not only the first: a name with one public and one private address is refused.
  const refused = addresses.find((a) => !addressAllowed(a.address, allowPrivate));
  if (refused) {
    const at = literal ? '' : ` resolves to ${refused.address}, which`;
    throw new OutboundError('address_refused', `${host}${at} is a ${classifyAddress(refused.address)} address, not called by the exchange`);
  }
  return { address: addresses[0].address, family: addresses[0].family === 6 ? 6 : 4 };
}

/** One HTTP(S) request under the rules above. Throws OutboundError; any HTTP status (3xx included) is an answer. */
export async function outboundRequest(url: string, request: OutboundRequest): Promise<OutboundAnswer> {
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new OutboundError('network', `${target.protocol} URLs are not called`);
  const deadline = AbortSignal.timeout(request.timeoutMs);
  const timedOut = () => new OutboundError('timeout', `no answer within ${request.timeoutMs} ms`);
  const pinned = await Promise.race([
    resolveAllowedAddress(target.hostname, request.allowPrivate),
    new Promise<never>((_, reject) => deadline.addEventListener('abort', () => reject(timedOut()), { once: true })),
  ]);
  if (deadline.aborted) throw timedOut();
  const connectTo: LookupFunction = (_host, options, callback) => {
    // The checked address, whatever the name resolves to now.
    if ((options as { all?: boolean }).all) (callback as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
  return new Promise<OutboundAnswer>((resolve, reject) => {
    let settled = false;
    const fail = (error: OutboundError) => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(error);
    };
    const transport = target.protocol === 'https:' ? https : http;
    const req = transport.request(target, {
      method: request.method ?? 'GET',
      headers: request.body === undefined ? request.headers : { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
      agent: false, // one socket per call, closed after it: nothing pooled under a name that may now resolve elsewhere
      lookup: connectTo,
    });
    const onDeadline = () => fail(timedOut());
    deadline.addEventListener('abort', onDeadline, { once: true });
    req.on('close', () => deadline.removeEventListener('abort', onDeadline));
    req.on('error', (error: Error & { code?: string }) => fail(new OutboundError('network', error.code ? `${error.code}: ${error.message}` : error.message)));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const answer = (body: Buffer): OutboundAnswer => ({
        status,
        ok: status >= 200 && status < 300,
        headers: res.headers,
        body,
        header: (name) => {
          const value = res.headers[name.toLowerCase()];
          return Array.isArray(value) ? value[0] : value;
        },
        text: () => body.toString('utf8'),
      });
      if (request.discardBody) {
        settled = true;
        req.destroy();
        resolve(answer(Buffer.alloc(0)));
        return;
      }
      const tooLarge = () => fail(new OutboundError('too_large', `answer over ${request.maxBytes} bytes`));
      if (Number(res.headers['content-length']) > request.maxBytes) return tooLarge();
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > request.maxBytes) return tooLarge();
        chunks.push(chunk);
      });
      res.on('error', (error) => fail(new OutboundError('network', error.message)));
      res.on('aborted', () => fail(new OutboundError('network', 'the answer was cut off')));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        resolve(answer(Buffer.concat(chunks)));
      });
    });
    req.end(request.body);
  });
}
