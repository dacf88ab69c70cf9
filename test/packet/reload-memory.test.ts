// A reload the data plane refuses for real: a plan too large for dpdk.memory_mb
// (ring ports, one worker). Nothing changes, established sessions and new flows go on.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RingGateway } from './harness';
import { drainAll, MSS_1460, resolveNeighbours, runFixtures, seg, tcpFx, type Ends } from './fixtures';
import { VIP, WAN_IP, LAN_IP, LIP as LIP10, CLIENT, RS1, WAN_MAC, LAN_MAC } from './addresses';

// The smallest memory this config starts in (the sizing in src/plan/build.ts
// asks about 65 MiB for EAL, mbufs, sessions and counters), so what is left
// holds a few MiB of plan, never 64 MiB.
const MEMORY_MB = 80;

/**
 * `big` wrr services on RS1:8080 (weight 65535) and RS1:8081 (weight 1):
 * 65536 scheduling entries (256 KiB) each, and no new next hop to resolve.
 */
function yaml(big: number): string {
  const services = Array.from(
    { length: big },
    (_, i) =>
      `  - { name: big${i}, vip: ${VIP}, port: ${1000 + i}, protocol: tcp, scheduler: wrr, local_addresses: pool, ` +
      `real_servers: [{ address: ${RS1.ip}, port: 8080, weight: 65535 }, { address: ${RS1.ip}, port: 8081, weight: 1 }] }`,
  );
  return `
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: ${MEMORY_MB}, mbufs: 1024, idle_sleep_us: 20, rx_desc: 256, tx_desc: 256 }
ports:
  - { name: wan, device: "ring:memwan", addresses: [${WAN_IP}/24] }
  - { name: lan, device: "ring:memlan", addresses: [${LAN_IP}/24] }
local_addresses: { pool: { port: lan, addresses: [${LIP10}], ports: [2000, 2999] } }
sessions: { max: 1024 }
services:
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8080 }] }
${services.join('\n')}
`;
}

/** Everything the ids registry says, through its public readers. */
function idState(gw: RingGateway) {
  return {
    services: [...gw.ids.services()],
    realServers: [...gw.ids.realServers()],
    draining: [...gw.ids.drainingServers()],
    lips: [...gw.ids.lips()],
    serviceIdLimit: gw.ids.serviceIdLimit(),
    realServerIdLimit: gw.ids.realServerIdLimit(),
  };
}

describe('reload: a plan too large for dpdk.memory_mb', () => {
  it('is refused with the cause; listing, ids and config stay; the session goes on and new flows get a server', async () => {
    const gw = RingGateway.start(yaml(4));
    try {
      assert.deepEqual(await resolveNeighbours(gw, 'lan', LAN_IP, [RS1]), [], 'resolving the real server');
      await drainAll(gw);
      const m = { wan: WAN_MAC, lan: LAN_MAC };
      const c = (sport: number): Ends => ({ ethSrc: CLIENT.mac, ethDst: m.wan, src: CLIENT.ip, dst: VIP, sport, dport: 80 });
      const toC = (sport: number): Ends => ({ ethSrc: m.wan, ethDst: CLIENT.mac, src: VIP, dst: CLIENT.ip, sport: 80, dport: sport });
      const toRs = (lport: number): Ends => ({ ethSrc: m.lan, ethDst: RS1.mac, src: LIP10, dst: RS1.ip, sport: lport, dport: 8080 });
      const fromRs = (lport: number): Ends => ({ ethSrc: RS1.mac, ethDst: m.lan, src: RS1.ip, dst: LIP10, sport: 8080, dport: lport });

      await runFixtures(gw, [
        tcpFx('SYN -> RS1 from LIP .10:2000', 'wan', c(40000), 'lan', toRs(2000), seg({ flags: 'S', seq: 100, ack: 0, id: 1, tcpOptions: MSS_1460 }), {
          fwd_to_server: 1,
          sessions_created: 1,
          sessions_active: 1,
        }),
        tcpFx('SYN+ACK -> client', 'lan', fromRs(2000), 'wan', toC(40000), seg({ flags: 'SA', seq: 500, ack: 101, id: 2, tcpOptions: MSS_1460 }), { fwd_to_client: 1 }),
        tcpFx('ACK -> RS1: established', 'wan', c(40000), 'lan', toRs(2000), seg({ flags: 'A', seq: 101, ack: 501, id: 3 }), { fwd_to_server: 1 }),
      ]);

      const list = gw.list();
      const ids = idState(gw);
      const cfg = gw.cfg;
      // 1 + 256 × 65536 scheduling entries: 64 MiB, more than all of dpdk.memory_mb.
      const r = gw.reload(yaml(256));
      assert.deepEqual(r, {
        ok: false,
        errors: [
          'native plan: out of DPDK memory for 257 services, 513 real servers and 16777217 scheduling entries beside the running plan (raise dpdk.memory_mb)',
        ],
      });
      assert.deepEqual(gw.list(), list, 'the listing is exactly as before');
      assert.deepEqual(idState(gw), ids, 'ids, draining servers and LIPs are exactly as before');
      assert.equal(gw.cfg, cfg, 'the running config stays');
      assert.equal(gw.plan.generation(), 0, 'no plan was published');

      await runFixtures(gw, [
        tcpFx('the established session: client data -> RS1 via .10:2000', 'wan', c(40000), 'lan', toRs(2000), seg({ flags: 'PA', seq: 101, ack: 501, id: 4, payload: Buffer.from('after') }), {
          fwd_to_server: 1,
        }),
        tcpFx('the established session: RS1 data -> client', 'lan', fromRs(2000), 'wan', toC(40000), seg({ flags: 'PA', seq: 501, ack: 106, id: 5, payload: Buffer.from('still here') }), {
          fwd_to_client: 1,
        }),
        tcpFx('a new flow: SYN -> RS1 from the next port, .10:2001', 'wan', c(40001), 'lan', toRs(2001), seg({ flags: 'S', seq: 900, ack: 0, id: 6, tcpOptions: MSS_1460 }), {
          fwd_to_server: 1,
          sessions_created: 1,
          sessions_active: 1,
        }),
      ]);

      // What the refused plan took is back: a plan that fits goes through.
      const ok = gw.reload(yaml(20));
      assert.equal(ok.ok, true, ok.ok ? '' : ok.errors.join('; '));
      assert.equal(gw.plan.generation(), 1);
      assert.deepEqual(
        gw.list().map((s) => [s.name, s.real_servers.map((x) => x.id)]),
        [['web', [0]], ...Array.from({ length: 20 }, (_, i) => [`big${i}`, [1 + 2 * i, 2 + 2 * i]])],
        'ids as if the refused reload never happened',
      );
      await runFixtures(gw, [
        tcpFx('after the good reload: client data -> RS1 via .10:2000', 'wan', c(40000), 'lan', toRs(2000), seg({ flags: 'PA', seq: 106, ack: 511, id: 7, payload: Buffer.from('again') }), {
          fwd_to_server: 1,
        }),
      ]);
    } finally {
      gw.stop();
    }
  });
});
