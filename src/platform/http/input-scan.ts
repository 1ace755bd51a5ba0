/**
 * What no request or stream message may carry, whatever its route: JSON nested deeper than
 * `maxDepth` (class-transformer and class-validator recurse, and 5,000 levels overflow the stack),
 * text PostgreSQL refuses to store (a NUL character, or half of a UTF-16 surrogate pair), and a
 * `__proto__` field. Checked once, before validation, so
 * no DTO needs its own rule. Iterative: the scan itself never recurses.
 */
export interface InputProblem {
  /** Where, as a dotted path with [i] for array items ('' for the whole value). */
  readonly path: string;
  readonly reason: string;
}

export const MAX_JSON_DEPTH = 32;

// A NUL, a high surrogate not followed by a low one, or a low one not preceded by a high one.
const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const MAYBE_UNSTORABLE = /[\u0000\ud800-\udfff]/;

export function unstorableText(text: string): string | undefined {
  if (!MAYBE_UNSTORABLE.test(text)) return undefined; // the common case, and the cheap test
  const match = UNSTORABLE_TEXT.exec(text);
  if (!match) return undefined;
  return match[0] === '\u0000' ? 'must not contain a NUL character' : 'must not contain a lone UTF-16 surrogate';
}

const child = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

export function scanInput(value: unknown, maxDepth = MAX_JSON_DEPTH): InputProblem | undefined {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: '', depth: 0 }];
  while (stack.length > 0) {
    const { value: current, path, depth } = stack.pop()!;
    if (typeof current === 'string') {
      const reason = unstorableText(current);
      if (reason) return { path, reason };
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= maxDepth) return { path, reason: `nests deeper than ${maxDepth} levels` };
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], path: child(path, i), depth: depth + 1 });
      continue;
    }
    for (const key of Object.keys(current)) {
      // JSON.parse keeps it as a plain key, which class-transformer would then assign as a prototype.
      if (key === '__proto__') return { path: child(path, key), reason: 'is not an allowed field name' };
      const reason = unstorableText(key);
      if (reason) return { path: child(path, key), reason: `field name ${reason}` };
      stack.push({ value: (current as Record<string, unknown>)[key], path: child(path, key), depth: depth + 1 });
    }
  }
  return undefined;
}
