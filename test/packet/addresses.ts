// The packet tests' address plan (198.18.0.0/15 only; ring ports, nothing
// leaves the process): the client side is 198.18.0.0/24 behind port wan,
// the real servers 198.19.0.0/24 behind port lan, the first LIP of the pool
// is 198.19.0.10. Every two-port config lists wan first: its ring MACs are
// those of port indexes 0 and 1 (the harness checks them at start).
import { ringPortMac, type Host } from '../lib/packet-table';

export const VIP = '198.18.0.100';
export const WAN_IP = '198.18.0.254';
export const LAN_IP = '198.19.0.254';
export const LIP = '198.19.0.10';
export const CLIENT: Host = { ip: '198.18.0.1', mac: '02:00:00:00:01:01' };
export const RS1: Host = { ip: '198.19.0.2', mac: '02:00:00:00:02:02' };
export const WAN_MAC = ringPortMac(0);
export const LAN_MAC = ringPortMac(1);
