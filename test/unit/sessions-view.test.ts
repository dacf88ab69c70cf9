// `fullnat sessions`: the data plane lists sessions as numbers (host-order addresses, a TCP state index);
// sessionRow() names and formats them as the JSON the control socket serves, sessionsView() prints them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIPv4 } from '../../src/config/net';
import { sessionRow, sessionsView } from '../../src/control/views';
import type { NativeSession } from '../../src/native';

const rec = (over: Partial<NativeSession>): NativeSession => ({
  proto: 6,
  cip: parseIPv4('198.18.0.1'),
  cport: 40000,
  vip: parseIPv4('198.18.0.100'),
  vport: 80,
  lip: parseIPv4('198.19.0.10'),
  lport: 2000,
  rip: parseIPv4('198.19.0.2'),
  rport: 8080,
  state: 3,
  worker: 1,
  serviceId: 0,
  realServerId: 2,
  expiresMs: 899_600,
  ...over,
});

test('a TCP session: ip:port strings, the state by name, the ids and expiry as they came', () => {
  // Key order is part of `fullnat sessions --json`.
  assert.deepEqual(Object.entries(sessionRow(rec({}))), [
    ['proto', 'tcp'],
    ['client', '198.18.0.1:40000'],
    ['vip', '198.18.0.100:80'],
    ['local', '198.19.0.10:2000'],
    ['server', '198.19.0.2:8080'],
    ['state', 'ESTABLISHED'],
    ['worker', 1],
    ['serviceId', 0],
    ['realServerId', 2],
    ['expiresMs', 899_600],
  ]);
});

test('every TCP state by name; UDP sessions (state 255) and unknown states read UDP', () => {
  const names = ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE'];
  assert.deepEqual(names.map((_, state) => sessionRow(rec({ state })).state), names);
  assert.equal(sessionRow(rec({ state: 9 })).state, 'UDP');
  const udp = sessionRow(rec({ proto: 17, state: 255, vport: 53, rport: 5353 }));
  assert.deepEqual([udp.proto, udp.state, udp.vip, udp.server], ['udp', 'UDP', '198.18.0.100:53', '198.19.0.2:5353']);
  assert.equal(sessionRow(rec({ cip: 0xffffffff, cport: 65535 })).client, '255.255.255.255:65535');
});

test('the printed table, and the hint when the limit was reached', () => {
  const rows = [rec({}), rec({ proto: 17, state: 255, cport: 5, worker: 0, expiresMs: 1499 })].map(sessionRow);
  assert.equal(
    sessionsView(rows, 100),
    [
      'Proto  Client            VIP              Local (LIP)       Server           State        Worker  Expires(s)',
      'tcp    198.18.0.1:40000  198.18.0.100:80  198.19.0.10:2000  198.19.0.2:8080  ESTABLISHED       1         900',
      'udp    198.18.0.1:5      198.18.0.100:80  198.19.0.10:2000  198.19.0.2:8080  UDP               0           1',
      '',
    ].join('\n'),
  );
  assert.match(sessionsView(rows, 2), /\n\(first 2 shown; raise --limit or filter with --vip, --server, --client\)\n$/);
  assert.equal(sessionsView([], 100), 'no sessions match\n');
});
