// The layers of README's "How it is built", read from the import lines of
// src/: a back-edge (config reaching into the plan, the product into bench/) fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..', '..');
const src = path.join(root, 'src');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every module a file names: static imports (type-only too), re-exports, import() and require() of a literal. */
function specifiers(text: string): string[] {
  const re = /\bfrom\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/gm;
  return [...text.matchAll(re)].map((m) => m[1] ?? m[2] ?? m[3] ?? m[4]!);
}

/** Repo-relative paths (no extension) of what src/ files import from the repo; node: and npm modules left out. */
const graph: { file: string; target: string }[] = tsFiles(src).flatMap((f) =>
  specifiers(fs.readFileSync(f, 'utf8'))
    .filter((s) => s.startsWith('.'))
    .map((s) => ({ file: path.relative(root, f), target: path.relative(root, path.resolve(path.dirname(f), s)) })),
);

function within(p: string, area: string): boolean {
  return p === area || p.startsWith(area + '/');
}

/** from -> areas it must not import (a file's path without .ts, or a folder). */
const RULES: [string, string[], string][] = [
  ['src/config', ['src/plan', 'src/dpdk', 'src/gateway', 'src/native'], 'config is the bottom layer: plan and dpdk read it, not the other way'],
  ['src/plan', ['src/native', 'src/dpdk', 'src/gateway'], 'the plan is pure: it owns the contract (src/plan/contract.ts), the loader is not its business'],
  ['src/dpdk', ['src/plan', 'src/gateway'], 'EAL arguments and the kernel side come from config alone'],
  ['src', ['bench', 'test'], 'the product ships without the bench and the tests'],
];

test('the import graph of src/ was read', () => {
  assert.ok(graph.length > 50, `only ${graph.length} imports found`);
  assert.ok(graph.some((e) => e.file === 'src/plan/build.ts' && e.target === 'src/config/schema'));
});

for (const [from, banned, why] of RULES) {
  test(`${from}/ imports nothing from ${banned.join(', ')} (${why})`, () => {
    const bad = graph.filter((e) => within(e.file.replace(/\.ts$/, ''), from) && banned.some((b) => within(e.target, b)));
    assert.deepEqual(bad.map((e) => `${e.file} -> ${e.target}`), []);
  });
}

test('the test and bench hooks of the addon (NativeTesting) appear in src/ only where they are declared', () => {
  const users = tsFiles(src)
    .filter((f) => /\b(NativeTesting|loadNativeTesting)\b/.test(fs.readFileSync(f, 'utf8')))
    .map((f) => path.relative(root, f));
  assert.deepEqual(users, ['src/native.ts']);
});
