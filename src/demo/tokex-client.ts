/**
 * A minimal client of the tokex REST API (`../shared/spec/api.md`), as a bot written outside this
 * repository would have one: `fetch`, a bearer API key, JSON in and out, errors as `ApiError` with
 * the API's machine code. Money and prices stay the API's decimal strings throughout.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

export class TokexClient {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey?: string,
  ) {}

  get<T = any>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T = any>(path: string, body: unknown = {}, idempotencyKey?: string): Promise<T> {
    return this.call<T>('POST', path, body, idempotencyKey);
  }

  delete<T = any>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }

  /** Every item of a cursor-paginated list (`?limit=&cursor=`). */
  async all<T = any>(path: string): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const page: Page<T> = await this.get(`${path}${sep}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return items;
  }

  async call<T>(method: string, path: string, body?: unknown, idempotencyKey?: string): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await response.text();
    const json = text ? JSON.parse(text) : undefined;
    if (!response.ok) throw new ApiError(response.status, json?.code, `${method} ${path}: ${response.status} ${json?.code ?? ''} ${json?.message ?? text}`);
    return json as T;
  }
}
