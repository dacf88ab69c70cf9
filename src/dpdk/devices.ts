// Checks a port's device before EAL probes it, so a typo gives a sentence
// naming the port and the fix instead of EAL's "Cannot probe devices".
import * as fs from 'node:fs';
import type { Config } from '../config/schema';
import { parseDevice } from '../config/schema';

export interface SysPaths {
  net: string; // /sys/class/net
  pci: string; // /sys/bus/pci/devices
}

const SYS: SysPaths = { net: '/sys/class/net', pci: '/sys/bus/pci/devices' };

/** vdev arguments as a map: "net_af_packet0,iface=gw0,qpairs=2" -> { iface: 'gw0', qpairs: '2' }. */
export function vdevArgs(device: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of device.split(',').slice(1)) {
    const eq = kv.indexOf('=');
    if (eq > 0) out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

/** One message per port whose device cannot work as written; empty when all look fine. */
export function checkDevices(cfg: Config, sys: SysPaths = SYS): string[] {
  const problems: string[] = [];
  for (const p of cfg.ports) {
    const d = parseDevice(p.device);
    if (!d) continue; // the schema already rejected it
    if (d.kind === 'pci' && !fs.existsSync(`${sys.pci}/${d.id}`)) {
      problems.push(`port ${p.name}: no PCI device ${d.id} on this machine (see lspci -D)`);
    }
    if (d.kind !== 'vdev') continue;
    const args = vdevArgs(p.device);
    if (/^net_(af_packet|af_xdp)/.test(d.id)) {
      if (!args.iface) problems.push(`port ${p.name}: ${d.id} needs an interface: "${d.id},iface=NAME"`);
      else if (!fs.existsSync(`${sys.net}/${args.iface}`)) {
        problems.push(`port ${p.name}: interface ${args.iface} does not exist in this network namespace (${d.id} attaches to a kernel interface)`);
      }
    }
    if (d.id.startsWith('net_pcap')) {
      for (const k of ['rx_pcap']) {
        if (args[k] && !fs.existsSync(args[k]!)) problems.push(`port ${p.name}: ${k} file ${args[k]} does not exist`);
      }
    }
  }
  return problems;
}
