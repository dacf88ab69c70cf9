// `fullnat stats`: the table a person reads (statsTable) and the control
// socket it is fetched over (ControlServer / request), on temp unix sockets.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ControlServer, request } from '../../src/control/server';
import { statsTable, type PortSteering } from '../../src/control/stats-table';
import type { StatsSnapshot } from '../../src/stats';

// Two workers and the control thread; total is their sum.
const SNAP: StatsSnapshot = {
  workers: [
    { rx_packets: 1234567890123, sessions_created: 7, arp_replies: 0, drop_fragment: 0, redirected: 3 },
    { rx_packets: 5, sessions_created: 120, arp_replies: 0, drop_fragment: 0, redirected: 0 },
  ],
  control: { rx_packets: 0, sessions_created: 0, arp_replies: 42, drop_fragment: 0, redirected: 0 },
  total: { rx_packets: 1234567890128, sessions_created: 127, arp_replies: 42, drop_fragment: 0, redirected: 3 },
};
const PORTS: PortSteering[] = [
  { name: 'wan', steering: 'none', steeringReason: 'no local address (LIP) on this port' },
  { name: 'lan', steering: 'redirect', steeringReason: 'fallback: the port rejects the steering rule: not supported' },
];

/** [start, end) of every whitespace-separated token on a line. */
function spans(line: string): Array<[number, number]> {
  return [...line.matchAll(/\S+/g)].map((m) => [m.index!, m.index! + m[0].length]);
}

describe('statsTable', () => {
  const out = statsTable(SNAP, PORTS);
  const lines = out.split('\n');
  const rowOf = (name: string) => lines.find((l) => l.split(/\s+/)[0] === name);

  test('header: counter, a column per worker, control, total', () => {
    assert.deepEqual(lines[0]!.trim().split(/\s+/), ['counter', 'worker0', 'worker1', 'control', 'total']);
    assert.match(lines[1]!, /^-+( +-+){4}$/, 'a rule under the labels and every column');
    const three = statsTable({ ...SNAP, workers: [...SNAP.workers, SNAP.workers[1]!] }).split('\n')[0]!;
    assert.deepEqual(three.trim().split(/\s+/), ['counter', 'worker0', 'worker1', 'worker2', 'control', 'total']);
  });

  test('a row per non-zero counter, zero counters hidden', () => {
    for (const r of ['rx_packets', 'sessions_created', 'arp_replies', 'redirected']) assert.ok(rowOf(r), `no row ${r}:\n${out}`);
    assert.equal(rowOf('drop_fragment'), undefined, `zero counter shown:\n${out}`);
    // Zero on every worker but not on control: still a row, 0 per worker.
    assert.deepEqual(rowOf('arp_replies')!.trim().split(/\s+/), ['arp_replies', '0', '0', '42', '42']);
    assert.deepEqual(rowOf('sessions_created')!.trim().split(/\s+/), ['sessions_created', '7', '120', '0', '127']);
    const all0 = statsTable({ workers: [{ a: 0 }], control: { a: 0 }, total: { a: 0 } });
    assert.match(all0, /\(all counters are zero\)/);
    assert.doesNotMatch(all0, /^a /m);
  });

  test('values right-aligned under their header, labels left-aligned', () => {
    const head = spans(lines[0]!);
    const rule = spans(lines[1]!);
    // The label column is left-aligned (its rule is as wide as the longest label).
    assert.equal(rule[0]![1], 'sessions_created'.length, 'label rule as wide as the longest label');
    assert.deepEqual(rule.slice(1).map(([, e]) => e), head.slice(1).map(([, e]) => e), 'rules end where the headers end');
    for (const name of ['rx_packets', 'sessions_created', 'arp_replies', 'redirected']) {
      const row = rowOf(name)!;
      const cells = spans(row);
      assert.equal(cells.length, head.length, row);
      assert.equal(cells[0]![0], 0, `label starts the line: ${row}`);
      assert.deepEqual(
        cells.slice(1).map(([, e]) => e),
        head.slice(1).map(([, e]) => e),
        `values end under their headers:\n${lines[0]}\n${row}`,
      );
    }
    // A value wider than its header widens the column; the header moves right with it.
    const wide = spans(rowOf('rx_packets')!)[1]!;
    assert.equal(wide[1] - wide[0], '1234567890123'.length);
    assert.ok(head[1]![0] > wide[0], 'worker0 header right-aligned over a wider value');
  });

  test('reply steering section: each port with its mode and reason', () => {
    const i = lines.indexOf('reply steering:');
    assert.ok(i > 0, out);
    assert.equal(lines[i - 1], '', 'a blank line before the section');
    assert.equal(lines[i + 1], '  wan: none (no local address (LIP) on this port)');
    assert.equal(lines[i + 2], '  lan: redirect (fallback: the port rejects the steering rule: not supported)');
    assert.ok(out.endsWith('\n'));
    assert.doesNotMatch(statsTable(SNAP), /reply steering/, 'no ports, no section');
  });
});

describe('control socket', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fullnat-ctl-'));
  const servers: ControlServer[] = [];
  const server = (sock: string, body: unknown = { ...SNAP, ports: PORTS }) => {
    const s = new ControlServer(sock, { '/stats': () => body });
    servers.push(s);
    return s;
  };
  after(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('request() returns the JSON a ControlServer serves; close() removes the socket', async () => {
    const sock = path.join(dir, 'a.sock');
    const s = server(sock);
    await s.listen();
    assert.ok(statSync(sock).isSocket());
    assert.equal(statSync(sock).mode & 0o777, 0o660);
    assert.deepEqual(await request(sock, '/stats'), JSON.parse(JSON.stringify({ ...SNAP, ports: PORTS })));
    await assert.rejects(request(sock, '/nope'), /no such endpoint/);
    s.close();
    assert.ok(!existsSync(sock), 'socket left after close()');
  });

  test('a second ControlServer on a live socket fails with "in use" and leaves the first serving', async () => {
    const sock = path.join(dir, 'b.sock');
    await server(sock, { who: 'first' }).listen();
    const second = server(sock, { who: 'second' });
    await assert.rejects(second.listen(), /in use/);
    assert.deepEqual(await request(sock, '/stats'), { who: 'first' });
  });

  // cli.ts start() does exactly this when listen() throws: it calls
  // control.close(), which must not unlink the path it never owned (the
  // running gateway's socket), or that gateway answers no `fullnat stats`.
  test(
    'a failed second ControlServer closed after the failure does not unlink the live socket',
    async () => {
      const sock = path.join(dir, 'c.sock');
      await server(sock, { who: 'first' }).listen();
      const second = new ControlServer(sock, { '/stats': () => ({ who: 'second' }) });
      await assert.rejects(second.listen(), /in use/);
      second.close();
      assert.ok(existsSync(sock), 'the live gateway\'s socket was unlinked by the failed second one');
      assert.deepEqual(await request(sock, '/stats'), { who: 'first' });
    },
  );

  test('a stale socket file (no listener) is replaced', async () => {
    const sock = path.join(dir, 'd.sock');
    // A process that listens and dies without closing: the socket file stays.
    try {
      execFileSync(process.execPath, [
        '-e',
        `require('node:net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`,
      ]);
    } catch {
      // killed, as intended
    }
    assert.ok(statSync(sock).isSocket(), 'stale socket file not created');
    await assert.rejects(request(sock, '/stats'), /no gateway is running/, 'nothing listens on the stale socket');
    await server(sock, { who: 'new' }).listen();
    assert.deepEqual(await request(sock, '/stats'), { who: 'new' });
  });

  test('request() to a missing socket says no gateway is running', async () => {
    const sock = path.join(dir, 'missing.sock');
    await assert.rejects(request(sock, '/stats'), (e: Error) => {
      assert.match(e.message, /no gateway is running/);
      assert.ok(e.message.includes(sock), `names the socket: ${e.message}`);
      return true;
    });
  });
});
