import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import type { Principal } from '../platform/http/auth.js';

/** A client that lets this much pile up unsent is too slow for the stream: it is cut off, and resubscribes. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Error frames a connection may earn before it is closed as abusive. */
const MAX_ERRORS = 20;
/** Close codes (RFC 6455): policy violation, try again later. */
const POLICY_VIOLATION = 1008;

/** One stream connection: who it is, what it follows, and its socket. */
export class StreamSession {
  principal?: Principal;
  /** Topic keys (`book:SYMBOL`, `orders:<participant>`...) this connection follows. */
  readonly topics = new Set<string>();
  private errors = 0;
  /** Messages are handled one at a time, so answers come in request order. */
  private work: Promise<void> = Promise.resolve();
  /** The TCP socket under the WebSocket, corked while this tick's frames are written. */
  private readonly tcp?: Socket;
  private corked = false;

  constructor(private readonly socket: WebSocket) {
    this.tcp = (socket as unknown as { _socket?: Socket })._socket;
  }

  get open(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Sends an already serialised message (one JSON string per publication, shared by every subscriber). */
  sendRaw(json: string): void {
    if (!this.open) return;
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.socket.terminate();
      return;
    }
    this.cork();
    this.socket.send(json);
  }

  /**
   * Holds this tick's frames and sends them in one write: a batch commit answers and publishes to
   * a connection many frames at once, and a system call per frame cost more than the frames.
   */
  private cork(): void {
    if (this.corked || !this.tcp) return;
    this.corked = true;
    this.tcp.cork();
    process.nextTick(() => {
      this.corked = false;
      this.tcp!.uncork();
    });
  }

  send(message: object): void {
    this.sendRaw(JSON.stringify(message));
  }

  /** Answers with an error frame; a connection that keeps earning them is closed. */
  refuse(frame: { op: 'error'; code: string; message: string }): void {
    this.send(frame);
    if (++this.errors >= MAX_ERRORS) this.socket.close(POLICY_VIOLATION, 'too many invalid messages');
  }

  /** Runs `task` after the tasks before it; `task` answers its own errors. */
  enqueue(task: () => Promise<void>): void {
    this.work = this.work.then(task).catch(() => undefined);
  }
}
