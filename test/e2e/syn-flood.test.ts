// End to end, a SYN flood at the VIP (hping3 in the client namespace, SYNs
// from an address in the client's subnet that nobody owns, so no handshake
// ever completes and every one stays half-open) for 20 s, while a long
// iperf3 stream and a steady curl loop run through the same VIP:
//  - the stream completes and every request succeeds (half_open_full:
//    evict_oldest lets real handshakes in while the flood cycles the bound);
//  - the gateway stays up;
//  - sessions stay bounded by max_half_open (sampled throughout: without the
//    bound the flood alone would hold rate x tcp_syn sessions);
//  - the flood shows in the stats (half_open_evicted).
// Rates and throughputs are printed, never asserted (bench/ measures).
// First, with the same tools: a SYN with TTL 1 gets ICMP time exceeded.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { curl, iperf3, setupEnv, skipReason, sleep, statsJson, teardownEnv, withGatewayLog, type Env } from './lib';

// Large enough that a real handshake (one RTT, slower on a loaded machine) finishes well within one
// turn of the flood through the bound (max_half_open / flood rate, about 1 s here), small enough
// that the flood alone (rate x tcp_syn, some 20,000) would overrun it many times.
const MAX_HALF_OPEN = 2048;
const FLOOD_S = 20;
const SPOOFED = '198.18.0.77'; // in the client's /24, on no interface: SYN-ACKs to it die in the client namespace

describe('e2e: hping3 at the VIP: TTL 1 gets time exceeded; a 20 s SYN flood while iperf3 and curl run through it', { skip: skipReason }, () => {
  let env: Env | undefined;

  before(async () => {
    env = await setupEnv({
      iperf: true,
      edit: (doc) => {
        doc.setIn(['sessions', 'max_half_open'], MAX_HALF_OPEN);
        doc.setIn(['sessions', 'timeouts', 'tcp_syn'], 10);
        doc.setIn(['stats', 'interval_s'], 1); // the gauge sampled below: the gateway's own stats line each second
      },
    });
  }, { timeout: 120_000 });
  after(async () => {
    await teardownEnv(env);
  }, { timeout: 60_000 });

  it('a SYN with TTL 1 to the VIP is answered with ICMP time exceeded from the wan port address (hping3 -t 1, as traceroute)', { timeout: 60_000 }, () =>
    withGatewayLog(env, async () => {
      const e = env!;
      const before = await statsJson(e);
      const r = await e.topo.exec(e.topo.ns.client, 'hping3', ['-c', '3', '-t', '1', '-S', '-p', '80', e.web.vip], { check: false, timeoutMs: 30_000 });
      const out = r.stdout + r.stderr;
      assert.match(out, /TTL 0 during transit from ip=198\.18\.0\.254/, `hping3 saw no time exceeded from the gateway: ${out.trim()}`);
      const after = await statsJson(e);
      const d = (k: string) => (after.total[k] ?? 0) - (before.total[k] ?? 0);
      assert.equal(d('drop_ttl'), 3, 'each expired SYN dropped and counted');
      assert.equal(d('icmp_time_exceeded'), 3, 'and answered');
      assert.equal(d('sessions_created'), 0, 'an expired SYN makes no session');
    }));

  it('the stream and every request succeed, the gateway stays up, sessions stay bounded, the flood is counted', { timeout: 180_000 }, (t) =>
    withGatewayLog(env, async () => {
      const e = env!;
      const before = await statsJson(e);
      // The long stream first: its handshake is done before the flood starts.
      const stream = iperf3(e, ['-t', String(FLOOD_S + 8)], (FLOOD_S + 40) * 1000).then(
        (j) => ({ ok: true as const, j }),
        (err: Error) => ({ ok: false as const, err }),
      );
      await sleep(2000);

      // hping3: SYNs to VIP:80 every 200 us (about 5,000/s), source ports counting up.
      // SIGINT after FLOOD_S makes it print its totals.
      const flood = e.topo.exec(
        e.topo.ns.client,
        'timeout',
        ['-s', 'INT', String(FLOOD_S), 'hping3', '-q', '-S', '-p', '80', '-i', 'u200', '-a', SPOOFED, e.web.vip],
        { check: false, timeoutMs: (FLOOD_S + 30) * 1000 },
      );
      let flooding = true;
      void flood.finally(() => (flooding = false));

      const curls: Array<{ ok: boolean; error?: string }> = [];
      const firstRecord = e.gw.records.length;
      await sleep(1000);
      while (flooding) {
        curls.push(await curl(e));
        await sleep(200);
      }
      const f = await flood;
      const samples = e.gw.records
        .slice(firstRecord)
        .filter((r) => r.msg === 'stats')
        .map((r) => (r.stats as Record<string, number>).sessions_active ?? 0);
      for (let i = 0; i < 3; i++) curls.push(await curl(e)); // and right after
      const s = await stream;

      const sent = /(\d+) packets transmitted/.exec(f.stdout + f.stderr);
      assert.ok(sent && Number(sent[1]) > 1000, `hping3 flooded (exit ${f.code}): ${(f.stdout + f.stderr).trim().slice(-300)}`);
      assert.ok(s.ok, `the iperf3 stream through the VIP: ${s.ok ? '' : s.err.message}`);
      const streamBytes = s.j.server_output_json?.end.sum_received?.bytes ?? s.j.end.sum_received?.bytes ?? 0;
      assert.ok(streamBytes > 0, 'the stream carried data');
      const failed = curls.filter((c) => !c.ok);
      assert.ok(curls.length >= 10, `only ${curls.length} requests ran during the flood`);
      assert.deepEqual(failed, [], `${failed.length} of ${curls.length} requests failed during the flood`);
      assert.equal(e.gw.child.exitCode, null, 'the gateway is still running');

      const after = await statsJson(e);
      const d = (k: string) => (after.total[k] ?? 0) - (before.total[k] ?? 0);
      // The established sessions (iperf3, curls in TIME_WAIT) come on top of the half-open bound.
      const peak = Math.max(...samples);
      assert.ok(samples.length >= 10, `${samples.length} stats lines during the flood`);
      assert.ok(peak <= MAX_HALF_OPEN + 64, `sessions peaked at ${peak} (max_half_open ${MAX_HALF_OPEN}); samples ${samples.join(' ')}`);
      assert.ok(d('sessions_created') > 2 * MAX_HALF_OPEN, `the flood made ${d('sessions_created')} sessions`);
      assert.ok(d('half_open_evicted') > 0, 'at the bound, the oldest half-open sessions gave way');
      t.diagnostic(
        `flood: ${sent![1]} SYNs sent; gateway: sessions_created +${d('sessions_created')}, half_open_evicted +${d('half_open_evicted')}, ` +
          `drop_half_open_limit +${d('drop_half_open_limit')}, peak sessions ${peak}; ${curls.length} curls ok; ` +
          `stream ${((streamBytes * 8) / (FLOOD_S + 8) / 1e6).toFixed(0)} Mbit/s (noisy, not asserted)`,
      );
    }));
});
