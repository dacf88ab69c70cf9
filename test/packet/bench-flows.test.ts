// The bench's TCP connections run as a packet table: the same tcpConnection()
// steps, on the bench's address plan (bench/model.ts), whose inputs the bench
// pumps by the million. Each step must leave the other port exactly as the
// table says, with the LIP:lport lipOf() predicts, and move the counters the
// bench sums; in the bench's order (one step of every flow, then the next).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RingGateway } from './harness';
import { drainAll, resolveNeighbours, runFixtures, stepFx, tcpConnection, type Fixture } from './fixtures';
import { WAN_MAC, LAN_MAC } from './addresses';
import { ipStr } from '../../bench/frames';
import { benchFlow, ISN, LAN_IP, lipAddr, LPORT_HI, LPORT_LO, RS_IP, RS_MAC, RS_PORT, vip, vport, WAN_IP } from '../../bench/model';

const SERVICES = 2;
const LIPS = 2;
const FLOWS = 4;

function yaml(forwarding: 'fullnat' | 'nat', d: string): string {
  const services = Array.from({ length: SERVICES }, (_, s) =>
    `  - { name: s${s}, vip: ${ipStr(vip(s))}, port: ${vport(s)}, protocol: tcp, forwarding: ${forwarding}, local_addresses: pool, real_servers: [{ address: ${ipStr(RS_IP)}, port: ${RS_PORT} }] }`,
  );
  return `
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 256, mbufs: 4095, idle_sleep_us: 20, rx_desc: 256, tx_desc: 256 }
ports:
  - { name: wan, device: "ring:bfwan${d}", addresses: [${WAN_IP}/16] }
  - { name: lan, device: "ring:bflan${d}", addresses: [${LAN_IP}/16] }
local_addresses: { pool: { port: lan, addresses: [${Array.from({ length: LIPS }, (_, j) => ipStr(lipAddr(j))).join(', ')}], ports: [${LPORT_LO}, ${LPORT_HI}] } }
sessions: { max: 64, timeouts: { tcp_syn: 300, tcp_established: 300, tcp_fin: 300, tcp_time_wait: 300, tcp_close: 300 } }
services:
${services.join('\n')}
`;
}

const STEPS = ['syn', 'synAck', 'ack', 'serverAck', 'fin', 'finAck', 'lastAck'] as const;

/** Every flow's connection, step by step across the flows, as the bench pumps them. */
function table(nat: boolean): Fixture[] {
  const conns = Array.from({ length: FLOWS }, (_, i) => tcpConnection(benchFlow(i, { services: SERVICES, nat, lips: LIPS, wanMac: WAN_MAC, lanMac: LAN_MAC }), ISN));
  return STEPS.flatMap((step) =>
    conns.map((c, i) => {
      const fx = stepFx(c[step]);
      return { ...fx, description: `flow ${i}: ${fx.description}` };
    }),
  );
}

// Plain data, built before any gateway runs.
const FULLNAT = table(false);
const NAT = table(true);

for (const [mode, fixtures] of [['fullnat', FULLNAT], ['nat', NAT]] as const) {
  describe(`the bench's TCP connections (${mode}, ${FLOWS} flows over ${SERVICES} services and ${LIPS} LIPs)`, () => {
    let gw: RingGateway;

    before(async () => {
      gw = RingGateway.start(yaml(mode, mode === 'nat' ? 'n' : 'f'));
      assert.deepEqual(await resolveNeighbours(gw, 'lan', LAN_IP, [{ ip: ipStr(RS_IP), mac: RS_MAC }]), [], 'resolving the real server');
      await drainAll(gw);
    });
    after(() => gw?.stop());

    it('forwards every step as the table says, from the LIP:lport the bench predicts', () => runFixtures(gw, fixtures));
  });
}
