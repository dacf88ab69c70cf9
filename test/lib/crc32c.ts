// CRC-32C (Castagnoli) as an independent model of the hash the data plane's
// hashing schedulers index their tables with (SSE4.2 crc32, rte_hash_crc).
import assert from 'node:assert/strict';

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (reflected) of `bytes` from `init`, no final inversion: what SSE4.2 crc32 and rte_hash_crc compute. */
export function crc32c(bytes: number[], init: number): number {
  let c = init >>> 0;
  for (const b of bytes) c = (CRC32C_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8)) >>> 0;
  return c;
}

// The standard check value: CRC-32C("123456789") = 0xe3069283 (init and final xor ~0).
assert.equal((crc32c([...Buffer.from('123456789')], 0xffffffff) ^ 0xffffffff) >>> 0, 0xe3069283, 'crc32c model');
