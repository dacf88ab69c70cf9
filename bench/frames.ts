// Fast frame generation for the bench: millions of 60-byte frames (64 on the
// wire with the FCS) in one big Buffer, handed to benchPump as views. TCP
// frames are the packet tables' own (test/lib/packet-table.ts); UDP ones,
// up to 10M flows, are written here with checksums computed here, and the
// smoke test checks them against test/lib/packet.ts (same bytes).
export const FRAME_LEN = 60;

export function ipNum(ip: string): number {
  const p = ip.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

export function ipStr(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function macBytes(mac: string): number[] {
  return mac.split(':').map((x) => parseInt(x, 16));
}

export interface L4Frame {
  smac: number[];
  dmac: number[];
  sip: number;
  dip: number;
  sport: number;
  dport: number;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function sum16(b: Buffer, from: number, to: number, sum: number): number {
  for (let i = from; i < to; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  return sum;
}

function writeEthIp(b: Buffer, o: number, f: L4Frame, proto: number, l4len: number, id: number): void {
  b.fill(0, o, o + FRAME_LEN);
  for (let i = 0; i < 6; i++) {
    b[o + i] = f.dmac[i]!;
    b[o + 6 + i] = f.smac[i]!;
  }
  b[o + 12] = 0x08;
  b[o + 13] = 0x00;
  const ip = o + 14;
  b[ip] = 0x45;
  b.writeUInt16BE(20 + l4len, ip + 2);
  b.writeUInt16BE(id & 0xffff, ip + 4);
  b[ip + 6] = 0x40; // DF
  b[ip + 8] = 64; // TTL
  b[ip + 9] = proto;
  b.writeUInt32BE(f.sip, ip + 12);
  b.writeUInt32BE(f.dip, ip + 16);
  b.writeUInt16BE(~fold(sum16(b, ip, ip + 20, 0)) & 0xffff, ip + 10);
}

function pseudo(f: L4Frame, proto: number, len: number): number {
  return (f.sip >>> 16) + (f.sip & 0xffff) + (f.dip >>> 16) + (f.dip & 0xffff) + proto + len;
}

/** A 60-byte Ethernet/IPv4/UDP frame with 18 bytes of payload at offset o. */
export function writeUdp(b: Buffer, o: number, f: L4Frame, id = 1): void {
  writeEthIp(b, o, f, 17, 26, id);
  const u = o + 34;
  b.writeUInt16BE(f.sport, u);
  b.writeUInt16BE(f.dport, u + 2);
  b.writeUInt16BE(26, u + 4);
  for (let i = 0; i < 18; i++) b[u + 8 + i] = (i * 7 + 1) & 0xff;
  let c = ~fold(sum16(b, u, u + 26, pseudo(f, 17, 26))) & 0xffff;
  if (c === 0) c = 0xffff;
  b.writeUInt16BE(c, u + 6);
}

/** n frames written by `write(buf, offset, i)` into one allocation, as views. */
export function frameSet(n: number, write: (b: Buffer, o: number, i: number) => void): Buffer[] {
  const big = Buffer.allocUnsafe(n * FRAME_LEN);
  const out = new Array<Buffer>(n);
  for (let i = 0; i < n; i++) {
    write(big, i * FRAME_LEN, i);
    out[i] = big.subarray(i * FRAME_LEN, (i + 1) * FRAME_LEN);
  }
  return out;
}
