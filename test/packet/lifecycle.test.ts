// Start/stop of the data plane repeated in one process (EAL stays up), on the
// same ring device names: the second run must come up clean (fresh sessions,
// ports, counters and neighbours) and forward exactly like the first.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RingGateway } from './harness';
import { drainAll, MSS_1460, resolveNeighbours, runFixtures, seg, tcpFx, type Host } from './fixtures';
import { VIP, LAN_IP, LIP as LIP10, CLIENT, RS1, WAN_MAC, LAN_MAC } from './addresses';


const YAML = `
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 256, mbufs: 4095, idle_sleep_us: 20, rx_desc: 256, tx_desc: 256 }
ports:
  - { name: wan, device: "ring:wan", addresses: [198.18.0.254/24] }
  - { name: lan, device: "ring:lan", addresses: [${LAN_IP}/24] }
local_addresses: { pool: { port: lan, addresses: [${LIP10}], ports: [2000, 2003] } }
sessions: { max: 16 }
services:
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8080 }] }
`;

/** One run: start, resolve RS1 (the gateway must ask for it again), one SYN, stop. */
async function oneRun(): Promise<void> {
  const gw = RingGateway.start(YAML);
  try {
    assert.equal(gw.counters().sessions_created, 0, 'counters start from zero');
    assert.deepEqual(await resolveNeighbours(gw, 'lan', LAN_IP, [RS1]), [], 'resolving the real server');
    await drainAll(gw);
    const m = { wan: WAN_MAC, lan: LAN_MAC };
    await runFixtures(gw, [
      tcpFx(
        'SYN -> first port of a fresh pool, LIP .10:2000',
        'wan',
        { ethSrc: CLIENT.mac, ethDst: m.wan, src: CLIENT.ip, dst: VIP, sport: 40000, dport: 80 },
        'lan',
        { ethSrc: m.lan, ethDst: RS1.mac, src: LIP10, dst: RS1.ip, sport: 2000, dport: 8080 },
        seg({ flags: 'S', seq: 1, ack: 0, id: 1, tcpOptions: MSS_1460 }),
        { fwd_to_server: 1, sessions_created: 1, sessions_active: 1 },
      ),
    ]);
  } finally {
    gw.stop();
  }
}

describe('data plane lifecycle', () => {
  it('starts, stops and starts again on the same ring devices, from a clean state', async () => {
    await oneRun();
    await oneRun();
  });
});
