// Device checks before EAL: against a synthetic sysfs tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseConfig } from '../../src/config/load';
import { checkDevices, vdevArgs } from '../../src/dpdk/devices';

function sysTree(ifaces: string[], pci: string[]) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fn-sys-'));
  const net = path.join(root, 'net');
  const bus = path.join(root, 'pci');
  for (const i of ifaces) fs.mkdirSync(path.join(net, i), { recursive: true });
  for (const p of pci) fs.mkdirSync(path.join(bus, p), { recursive: true });
  fs.mkdirSync(net, { recursive: true });
  fs.mkdirSync(bus, { recursive: true });
  return { net, pci: bus, root };
}

const cfg = parseConfig(
  `dpdk: { lcores: { main: 0, workers: [1] } }
ports:
  - { name: wan, device: "net_af_packet0,iface=gw0,qpairs=2" }
  - { name: lan, device: "03:00.0" }
  - { name: xdp, device: "net_af_xdp0" }
`,
  'devices.yaml',
);

test('vdev arguments are parsed', () => {
  assert.deepEqual(vdevArgs('net_af_packet0,iface=gw0,qpairs=2'), { iface: 'gw0', qpairs: '2' });
  assert.deepEqual(vdevArgs('net_null0'), {});
});

test('missing interface, missing PCI device and missing iface= are each named', () => {
  const sys = sysTree([], []);
  try {
    const msgs = checkDevices(cfg, sys);
    assert.equal(msgs.length, 3);
    assert.match(msgs[0]!, /port wan: interface gw0 does not exist/);
    assert.match(msgs[1]!, /port lan: no PCI device 0000:03:00\.0/);
    assert.match(msgs[2]!, /port xdp: net_af_xdp0 needs an interface/);
  } finally {
    fs.rmSync(sys.root, { recursive: true, force: true });
  }
});

test('present devices pass', () => {
  const sys = sysTree(['gw0'], ['0000:03:00.0']);
  try {
    assert.deepEqual(checkDevices(cfg, sys), ['port xdp: net_af_xdp0 needs an interface: "net_af_xdp0,iface=NAME"']);
  } finally {
    fs.rmSync(sys.root, { recursive: true, force: true });
  }
});
