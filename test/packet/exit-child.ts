// Child process for exit-without-stop.test.ts: starts the data plane on ring ports, then ends the
// way argv[2] says, with FULLNAT_TRACE_CLEANUP set so the binding reports which path stopped it.
import { parseConfig } from '../../src/config/load';
import { ealArgs } from '../../src/dpdk/eal';
import { loadNative } from '../../src/native';
import { buildPlan } from '../../src/plan/build';
import { VIP, LAN_IP, LIP, RS1 } from './addresses';

const YAML = `
dpdk: { lcores: { main: 0, workers: [1] }, memory_mb: 256, mbufs: 4095, idle_sleep_us: 20, rx_desc: 256, tx_desc: 256 }
ports:
  - { name: wan, device: "ring:wan", addresses: [198.18.0.254/24] }
  - { name: lan, device: "ring:lan", addresses: [${LAN_IP}/24] }
local_addresses: { pool: { port: lan, addresses: [${LIP}], ports: [2000, 2003] } }
sessions: { max: 16 }
services:
  - { name: web, vip: ${VIP}, port: 80, protocol: tcp, local_addresses: pool, real_servers: [{ address: ${RS1.ip}, port: 8080 }] }
`;

const [how, prefix] = process.argv.slice(2) as [string, string];
const cfg = parseConfig(YAML, 'exit-child.yaml');
const built = buildPlan(cfg);
const native = loadNative();
native.ealInit(ealArgs(cfg, built.memoryNeededMb, { defaultPrefix: prefix }));
native.start(built.start, built.plan);
if (how === 'restart') {
  native.stop();
  native.start(built.start, built.plan);
}
if (how === 'stop') native.stop();
process.stderr.write(`started (${how})\n`);
// Let the workers and the control thread run for a moment, then leave without (another) stop().
setTimeout(() => {
  if (how !== 'loop-end') process.exit(0);
}, 300);
