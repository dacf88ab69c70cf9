// One line naming a frame (protocol, endpoints, TCP flags and sequence) for
// test failure messages: what left a port that no input asked for.
import { parsePacket } from './packet';

export function describeFrame(f: Buffer): string {
  try {
    const p = parsePacket(f);
    if (p.arp) return `ARP ${p.arp.op} ${p.arp.senderIp} -> ${p.arp.targetIp}`;
    if (p.tcp) return `TCP ${p.ipv4!.src}:${p.tcp.sport} -> ${p.ipv4!.dst}:${p.tcp.dport} [${p.tcp.flags}] seq ${p.tcp.seq}`;
    if (p.udp) return `UDP ${p.ipv4!.src}:${p.udp.sport} -> ${p.ipv4!.dst}:${p.udp.dport}`;
    if (p.icmp) return `ICMP type ${p.icmp.type} ${p.ipv4!.src} -> ${p.ipv4!.dst}`;
    if (p.ipv4) return `IPv4 proto ${p.ipv4.protocol} ${p.ipv4.src} -> ${p.ipv4.dst}`;
    return `ethertype 0x${p.eth.type.toString(16)}`;
  } catch {
    return `unparseable ${f.toString('hex')}`;
  }
}
