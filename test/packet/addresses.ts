// The packet tests' address plan (198.18.0.0/15 only; ring ports, nothing
// leaves the process): the client side is 198.18.0.0/24 behind port wan,
// the real servers 198.19.0.0/24 behind port lan, the first LIP of the pool
// is 198.19.0.10.
import type { Host } from './fixtures';

export const VIP = '198.18.0.100';
export const WAN_IP = '198.18.0.254';
export const LAN_IP = '198.19.0.254';
export const LIP = '198.19.0.10';
export const CLIENT: Host = { ip: '198.18.0.1', mac: '02:00:00:00:01:01' };
export const RS1: Host = { ip: '198.19.0.2', mac: '02:00:00:00:02:02' };
