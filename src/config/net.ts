// IPv4 address and CIDR helpers shared by config validation and the plan.
// Addresses are uint32 numbers in host order; all functions are pure.

export interface Cidr {
  /** The address as written (may have host bits set, e.g. 198.18.0.254/24). */
  addr: number;
  prefixLen: number;
  /** addr & mask */
  network: number;
  mask: number;
}

// Decimal octets only: leading zeros are refused because some parsers read
// them as octal (inet_aton("010.0.0.1") is 8.0.0.1), which would be a silent
// disagreement with the data plane or the kernel.
const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** Parses dotted-quad IPv4 into a uint32; throws on anything else. */
export function parseIPv4(s: string): number {
  if (typeof s !== 'string') throw new Error(`invalid IPv4 address: ${String(s)}`);
  const parts = s.split('.');
  if (parts.length !== 4) throw new Error(`invalid IPv4 address: "${s}"`);
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p)) throw new Error(`invalid IPv4 address: "${s}"`);
    const v = Number(p);
    if (v > 255) throw new Error(`invalid IPv4 address: "${s}"`);
    n = n * 256 + v;
  }
  return n;
}

export function isIPv4(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  try {
    parseIPv4(s);
    return true;
  } catch {
    return false;
  }
}

export function formatIPv4(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`not a uint32 IPv4 address: ${n}`);
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function prefixMask(prefixLen: number): number {
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32) throw new Error(`invalid prefix length: ${prefixLen}`);
  // << 32 is a no-op in JS, so /0 needs its own case.
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/** Parses "a.b.c.d/len"; host bits may be set (an interface address). */
export function parseCidr(s: string): Cidr {
  if (typeof s !== 'string') throw new Error(`invalid CIDR: ${String(s)}`);
  const slash = s.indexOf('/');
  if (slash < 0) throw new Error(`invalid CIDR (no /prefix): "${s}"`);
  const lenText = s.slice(slash + 1);
  if (!/^(0|[1-9][0-9]?)$/.test(lenText) || Number(lenText) > 32) throw new Error(`invalid CIDR prefix length: "${s}"`);
  const addr = parseIPv4(s.slice(0, slash));
  const prefixLen = Number(lenText);
  const mask = prefixMask(prefixLen);
  return { addr, prefixLen, network: (addr & mask) >>> 0, mask };
}

export function isCidr(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  try {
    parseCidr(s);
    return true;
  } catch {
    return false;
  }
}

/** True when ip lies in the network of cidr (host bits of cidr ignored). */
export function inSubnet(ip: number | string, cidr: string | Cidr): boolean {
  const a = typeof ip === 'string' ? parseIPv4(ip) : ip;
  const c = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
  return ((a & c.mask) >>> 0) === c.network;
}

/** "198.18.0.0/24" for "198.18.0.254/24". */
export function formatNetwork(c: Cidr): string {
  return `${formatIPv4(c.network)}/${c.prefixLen}`;
}
