import WebSocket from 'ws';

export type Message = Record<string, unknown> & { op?: string; channel?: string; type?: string; seq?: number };

/** A real WebSocket client that keeps every message, so a test can wait for the one it expects. */
export class StreamClient {
  readonly received: Message[] = [];
  private readonly waiters = new Set<() => void>();
  closed?: { code: number };

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.received.push(JSON.parse(data.toString()));
      this.waiters.forEach((check) => check());
    });
    socket.on('close', (code) => {
      this.closed = { code };
      this.waiters.forEach((check) => check());
    });
  }

  /** Opens `/v1/stream` of the service at `baseUrl` (http or ws). */
  static open(baseUrl: string, headers: Record<string, string> = {}): Promise<StreamClient> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/v1/stream`, { headers });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new StreamClient(socket)));
      socket.once('error', reject);
    });
  }

  send(message: object | string): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first message received (from `from` on) that matches; fails after `timeoutMs`. */
  next(what: string, match: (m: Message) => boolean, from = 0, timeoutMs = 5000): Promise<Message> {
    return this.until(what, () => this.received.slice(from).find(match), timeoutMs);
  }

  async request(message: object, answer: string): Promise<Message> {
    const from = this.received.length;
    this.send(message);
    return this.next(answer, (m) => m.op === answer || m.op === 'error', from);
  }

  waitClosed(): Promise<{ code: number }> {
    return this.until('the connection to close', () => this.closed);
  }

  close(): void {
    this.socket.close();
  }

  /** Resolves with what `probe` finds, as soon as it finds something; fails after `timeoutMs`. */
  until<T>(what: string, probe: () => T | undefined, timeoutMs = 5000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const value = probe();
        if (value === undefined) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.received).slice(-2000)}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }
}

