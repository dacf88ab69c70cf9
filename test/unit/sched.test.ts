// Scheduling tables: rr order, smooth wrr proportions and interleaving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rrTable, wrrTable, MAX_SCHED_ENTRIES } from '../../src/plan/sched';

function counts(t: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const i of t) m.set(i, (m.get(i) ?? 0) + 1);
  return m;
}

test('rr lists every server with weight > 0 once, in config order', () => {
  assert.deepEqual(rrTable([1, 1, 1]), [0, 1, 2]);
  assert.deepEqual(rrTable([1, 0, 5]), [0, 2]);
  assert.deepEqual(rrTable([0, 0]), []);
});

test('wrr 5:3:1 gives exactly those proportions per cycle', () => {
  const t = wrrTable([5, 3, 1]);
  assert.equal(t.length, 9);
  assert.deepEqual([...counts(t)].sort(), [[0, 5], [1, 3], [2, 1]]);
});

test('wrr is smooth: the nginx sequence, never a burst longer than the weights force', () => {
  // Smooth WRR for 5:1:1 is a,a,b,a,c,a,a (nginx's documented example).
  assert.deepEqual(wrrTable([5, 1, 1]), [0, 0, 1, 0, 2, 0, 0]);
  const t = wrrTable([5, 3, 1]);
  for (let i = 1; i < t.length; i++) {
    if (t[i] !== 0) assert.notEqual(t[i], t[i - 1], `server ${t[i]} picked twice in a row at ${i}`);
  }
});

test('wrr reduces by the gcd and skips weight 0', () => {
  assert.deepEqual(wrrTable([200, 100, 0]), [0, 1, 0]);
  assert.deepEqual(wrrTable([0, 0]), []);
});

test('wrr refuses tables beyond the cap instead of allocating them', () => {
  assert.throws(() => wrrTable([MAX_SCHED_ENTRIES, 1]), /too fine-grained/);
});
