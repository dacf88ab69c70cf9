// Port names to DPDK port indexes and MACs for a data plane in this process,
// as the packet harness and the bench address ports (config order = index).
import type { Config } from '../../src/config/schema';
import { parseDevice } from '../../src/config/schema';
import type { Native } from '../../src/native';
import { ringPortMac } from './packet-table';

export class PortMap {
  private readonly idxOf: Map<string, number>;

  constructor(
    private readonly native: Native,
    private readonly ports: Config['ports'],
  ) {
    this.idxOf = new Map(ports.map((p, i) => [p.name, i]));
  }

  idx(port: string): number {
    const i = this.idxOf.get(port);
    if (i === undefined) throw new Error(`no port ${port}`);
    return i;
  }

  /** The MAC the running data plane gives the port. */
  mac(port: string): string {
    const info = this.native.portInfo(this.idx(port));
    if (!info) throw new Error(`port ${port} not up`);
    return info.mac;
  }

  /**
   * Throws unless every ring port has the MAC packet tables are built with
   * (ringPortMac of its index): tables are data built before any gateway
   * runs, so a change in the data plane's choice must show here, not as a
   * table of frames to the wrong station.
   */
  checkRingMacs(): void {
    const bad = this.ports
      .map((p, i) => ({ name: p.name, i, ring: parseDevice(p.device)?.kind === 'ring' }))
      .filter((p) => p.ring && this.mac(p.name) !== ringPortMac(p.i))
      .map((p) => `${p.name} (index ${p.i}) has ${this.mac(p.name)}, tables expect ${ringPortMac(p.i)}`);
    if (bad.length) throw new Error(`ring port MACs differ from ringPortMac(): ${bad.join('; ')}`);
  }
}
