import type { IncomingMessage, ServerResponse } from 'node:http';
import { chatPromptText } from './stub-text.js';

/** The stub model server's HTTP plumbing: reading and checking OpenAI requests, and answering them. */

export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;


export function chatPromptOf(body: Record<string, unknown>): string {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw new RequestError(400, 'messages must be a non-empty array', 'messages');
  if (messages.some((m) => typeof m !== 'object' || m === null)) throw new RequestError(400, 'every message must be an object', 'messages');
  return chatPromptText(messages as { content?: unknown }[]);
}

export function completionPromptOf(body: Record<string, unknown>): string {
  const prompt = body.prompt;
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') return prompt[0];
  throw new RequestError(400, 'the stub takes prompt as one string', 'prompt');
}

export function maxTokensOf(body: Record<string, unknown>, chat: boolean, fallback: number, limit: number): number {
  const param = chat && body.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
  const value = body[param];
  if (value === undefined || value === null) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > limit) {
    throw new RequestError(400, `${param} must be a whole number from 1 to ${limit}`, param);
  }
  return value as number;
}

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new RequestError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new RequestError(400, 'the body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RequestError(400, 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

export function openAiError(message: string, type: string, param: string | null = null): { error: Record<string, unknown> } {
  return { error: { message, type, param, code: null } };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Prometheus label value escaping: backslash, double quote and newline. */
export function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
