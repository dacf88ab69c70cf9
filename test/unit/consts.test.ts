// The constants C and TypeScript share (native/include/fn_consts.h): the TypeScript copy is generated from the
// header at build time; here it is held against a fresh read of the header and against figures used elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CONSTANTS } from '../../src/generated/consts';
import { SESSION_BYTES } from '../../src/plan/build';

interface Generator {
  HEADER: string;
  OUT: string;
  parseConsts(text: string): unknown;
  generate(): string;
}
// Plain JS run before tsc (npm run build:ts), so it is required from the repo, not from dist.
const gen = require(path.join(__dirname, '..', '..', '..', 'scripts', 'gen-consts.js')) as Generator;

test('src/generated/consts.ts is what the header says now (rebuild with npm run build:ts if not)', () => {
  assert.deepEqual(CONSTANTS, gen.parseConsts(readFileSync(gen.HEADER, 'utf8')));
  assert.equal(readFileSync(gen.OUT, 'utf8'), gen.generate());
});

test('every X(...) of each list is read, in order, with the values C gives them', () => {
  const header = readFileSync(gen.HEADER, 'utf8');
  /** Lines of the list after its #define line: one entry each. */
  const entries = (list: string) => {
    const lines = header.slice(header.indexOf(`#define ${list}(X)`)).split('\n');
    return lines.findIndex((l) => !l.trimEnd().endsWith('\\'));
  };
  assert.equal(Object.keys(CONSTANTS.schedKinds).length, entries('FN_SCHED_KINDS'));
  assert.equal(CONSTANTS.tcpStates.length, entries('FN_TCP_STATES'));
  assert.equal(Object.keys(CONSTANTS.sessionBytes).length, entries('FN_SESSION_BYTES'));
  assert.equal(CONSTANTS.timeouts.length, entries('FN_TIMEOUTS'));
  // Written out on purpose: the data plane's numbering (positions in the lists).
  assert.deepEqual(CONSTANTS.schedKinds, { cursor: 0, hash_addr: 1, hash_flow: 2, least: 3 });
  assert.deepEqual(CONSTANTS.tcpStates, ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE']);
  assert.deepEqual(CONSTANTS.timeouts, ['tcp_syn', 'tcp_established', 'tcp_fin', 'tcp_time_wait', 'tcp_close', 'udp']);
  assert.equal(CONSTANTS.sessionBytes.session, 64, 'struct fn_session is one cache line');
  assert.equal(SESSION_BYTES, 116, 'the memory estimate per session (bench/RESULTS.md: 116 allocated)');
});

test('a malformed list entry is an error naming the list, not a silent gap', () => {
  const header = readFileSync(gen.HEADER, 'utf8');
  assert.throws(() => gen.parseConsts(header.replace('X(FREE_LIST, 4)', 'X(FREE_LIST, four)')), /FN_SESSION_BYTES: FREE_LIST: four is not a number/);
  assert.throws(() => gen.parseConsts(header.replace('#define FN_TCP_STATES(X)', '#define FN_TCP_STATE_LIST(X)')), /no X-macro list FN_TCP_STATES/);
});
