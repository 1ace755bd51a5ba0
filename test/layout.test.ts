import { describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The layout tells the architecture, and this keeps it true: the platform depends on no domain,
 * no two folders depend on each other (directly or through others), the pure cores import no
 * framework and no I/O, the node agent is a separate program, and order-path files fit on a screen.
 */
const SRC = fileURLToPath(new URL('../src', import.meta.url));

interface SourceFile {
  readonly path: string;
  readonly text: string;
  /** Relative imports, resolved to paths under src/. */
  readonly imports: string[];
  /** Package and node: imports. */
  readonly packages: string[];
}

function sources(dir = SRC): SourceFile[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    if (!name.endsWith('.ts') || name.endsWith('.spec.ts')) return [];
    const text = readFileSync(path, 'utf8');
    const specifiers = [...text.matchAll(/^(?:import|export)[^'"]*from\s+'([^']+)'/gm)].map((m) => m[1]);
    return [
      {
        path: relative(SRC, path),
        text,
        imports: specifiers.filter((s) => s.startsWith('.')).map((s) => relative(SRC, normalize(join(dirname(path), s)))),
        packages: specifiers.filter((s) => !s.startsWith('.')),
      },
    ];
  });
}

/** The unit of layout a file belongs to: `orders`, `platform/jobs`, or `.` for src/main.ts. */
function folderOf(path: string): string {
  const parts = path.split('/');
  if (parts.length === 1) return '.';
  return parts[0] === 'platform' ? `platform/${parts[1]}` : parts[0];
}

const files = sources();
const edges = new Map<string, Set<string>>();
for (const file of files) {
  for (const target of file.imports) {
    const [from, to] = [folderOf(file.path), folderOf(target)];
    if (from !== to) edges.set(from, (edges.get(from) ?? new Set()).add(to));
  }
}

/** Every folder reachable from `start`. */
function reachable(start: string): Set<string> {
  const seen = new Set<string>();
  const stack = [...(edges.get(start) ?? [])];
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(edges.get(next) ?? []));
  }
  return seen;
}

describe('layout', () => {
  test('no folder import cycles', () => {
    const cycles = [...edges.keys()].filter((folder) => reachable(folder).has(folder));
    expect(cycles).toEqual([]);
  });

  test('the platform depends on no domain', () => {
    const wrong = [...edges].flatMap(([from, tos]) =>
      from.startsWith('platform/') ? [...tos].filter((to) => !to.startsWith('platform/') && to !== 'common').map((to) => `${from} -> ${to}`) : [],
    );
    expect(wrong).toEqual([]);
  });

  test('pure cores import no framework, database, cache or I/O', () => {
    const forbidden = /^(@nestjs\/|typeorm|pg|ioredis|bullmq|fastify|node:(fs|net|http|https|child_process))/;
    const wrong = files
      .filter((f) => f.path.split('/').includes('core'))
      .flatMap((f) => [
        ...f.packages.filter((p) => forbidden.test(p)).map((p) => `${f.path}: ${p}`),
        ...f.imports.filter((i) => !i.split('/').includes('core') && !/^(common|matching|markets\/(price|instrument-terms))\b/.test(i)).map((i) => `${f.path}: ${i}`),
      ]);
    expect(wrong).toEqual([]);
  });

  test('the node agent is a separate program: it imports only the published protocol', () => {
    const wrong = files.filter((f) => f.path.startsWith('node-agent/')).flatMap((f) => f.imports.filter((i) => !/^(node-agent|protocol)\//.test(i)));
    expect(wrong).toEqual([]);
  });

  test('no file of the order path is over 400 lines', () => {
    const long = files.filter((f) => f.path.startsWith('orders/') && f.text.split('\n').length > 400).map((f) => f.path);
    expect(long).toEqual([]);
  });
});
