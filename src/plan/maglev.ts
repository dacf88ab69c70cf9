// Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
// Software Network Load Balancer", NSDI 2016, section 3.4) as a table builder.
// The data plane picks a backend per packet as table[hash(flow) % M]; the
// table holds backend indices. Adding or removing a backend moves few entries
// that belonged to other backends, so most flows keep their backend even
// without connection state.
//
// Permutations. Backend i's preference list over the M slots is
// permutation[i][j] = (offset + j * skip) % M with
//   offset = h1(name) % M,  skip = h2(name) % (M - 1) + 1,
// which visits every slot exactly once because M is prime and 1 <= skip < M.
// h1 and h2 are MurmurHash3 x86 32-bit over the UTF-8 bytes of the name, with
// seeds `seed` and `~seed` (bitwise complement, as uint32) respectively. Only
// Math.imul, 32-bit shifts and UTF-8 encoding are involved, so the result is
// identical on every machine and Node version (pinned by test vectors).
//
// Fill order. Maglev's fill is order dependent: when two backends want the
// same free slot, the one earlier in the round wins. To make the table a
// function of the backend SET, live backends are filled in the order of their
// names (plain UTF-16 code unit comparison, locale independent) whatever
// their order in the input; the table still holds indices into the input
// array. Names must therefore be unique among live backends.
//
// Weights. Equal weights run the paper's Algorithm 1 exactly: round robin
// over the backends, each taking the next unfilled slot of its permutation,
// until all M slots are filled. Unequal weights use an accumulator in the
// style of Katran's weighted MaglevHashV2: every round each backend adds its
// weight to its accumulator, and a backend whose accumulator reaches the
// maximum weight W claims its next preferred free slot and pays W. The
// heaviest backends claim a slot every round, a backend of weight w one every
// W/w rounds. Unlike Katran, accumulators start at W - w rather than 0, so
// every live backend claims in round 1: after R full rounds a backend holds
// floor((R - 1) * w / W) + 1 slots, i.e. x * w rounded up for a common x,
// and never zero (Katran's zero start rounds down instead and can leave a
// light backend without any slot: weight 1 next to 65535). So each share is
// within about 1 + n * w / sum(w) slots of the exact M * w / sum(w) (the
// heavy ones absorb the others' rounding): 2:1:1 at M = 65537 is exact to a
// slot, 1000 backends of weights 1..4 within 0.9 slot, and one backend of
// 65535 next to 999 of weight 1 gets 14.5 slots under its exact share while
// each light one keeps 1 slot for its 0.985. With equal weights both reduce
// to Algorithm 1.
// The round loop costs O(rounds * N) = O(M * N * W / sum(w)); when weights
// are skewed (one heavy backend, many light ones) the same claims are
// replayed in the same (round, fill order) order from a binary heap keyed by
// each backend's next claiming round: O(M log N). Both add the probing of
// occupied slots, about M ln M in all as in the paper.
//
// Weight 0 backends are not in the table. With no live backend the result is
// an empty Uint32Array (like rrTable's [] : "no server", the data plane drops
// or rejects), not an error: health checks can take every server down.

import { isPrime } from '../config/prime';

/** Table size the gateway uses unless configured: prime, ~65 entries per backend at 1000 backends. */
export const MAGLEV_DEFAULT_SIZE = 65537;

export interface MaglevBackend {
  /** Unique among live backends, e.g. "198.19.0.2:8080". */
  name: string;
  /** Non-negative integer below 2^32; 0 = not in the table. */
  weight: number;
}

export interface MaglevOptions {
  /** Hash seed, an integer in [0, 2^32). Default 0. */
  seed?: number;
  /**
   * Permutation parameters, one per entry of `backends` (same index; ignored
   * for weight 0 entries), instead of hashing the names. For test vectors.
   */
  params?: readonly { offset: number; skip: number }[];
}

/** MurmurHash3 x86 32-bit (Austin Appleby's reference) of `data`. */
export function murmur3_32(data: Uint8Array, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const len = data.length;
  const nblocks = len >>> 2;
  for (let b = 0; b < nblocks; b++) {
    const p = b << 2;
    let k = data[p]! | (data[p + 1]! << 8) | (data[p + 2]! << 16) | (data[p + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = nblocks << 2;
  const rest = len & 3;
  if (rest > 0) {
    let k = 0;
    if (rest === 3) k ^= data[tail + 2]! << 16;
    if (rest >= 2) k ^= data[tail + 1]! << 8;
    k ^= data[tail]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function checkSize(M: number): void {
  if (!Number.isSafeInteger(M) || M < 2) {
    throw new Error(`maglev table size must be a prime integer >= 2, got ${M}`);
  }
  if (!isPrime(M)) {
    throw new Error(`maglev table size ${M} is not prime (every permutation must visit every slot); try ${MAGLEV_DEFAULT_SIZE}`);
  }
}

function checkSeed(seed: number): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new Error(`maglev seed must be an integer in [0, 2^32), got ${seed}`);
  }
  return seed >>> 0;
}

/**
 * Backend `name`'s permutation: offset = h1 % M, skip = h2 % (M - 1) + 1,
 * h1 = murmur3_32(utf8(name), seed), h2 = murmur3_32(utf8(name), ~seed).
 */
export function maglevPermutationParams(name: string, M: number, seed: number): { offset: number; skip: number } {
  checkSize(M);
  return permutation(name, M, checkSeed(seed));
}

function permutation(name: string, M: number, seed: number): { offset: number; skip: number } {
  const bytes = Buffer.from(name, 'utf8');
  const h1 = murmur3_32(bytes, seed);
  const h2 = murmur3_32(bytes, ~seed >>> 0);
  return { offset: h1 % M, skip: (h2 % (M - 1)) + 1 };
}

/**
 * Weighted builds use the round loop while it costs at most this many
 * accumulator steps per slot (n * W / sum(w)), the heap beyond. Measured
 * crossover at n = 1000, M = 655373: about 20-25 steps per slot.
 */
const ROUND_LOOP_MAX_STEPS = 16;

/**
 * Build the Maglev lookup table: length M, entries are indices into
 * `backends`. Throws when M is not prime, M is smaller than the number of
 * live backends, a weight is invalid, live names repeat, or `params` is
 * malformed. Returns an empty table when no backend has a weight > 0.
 */
export function maglevTable(backends: readonly MaglevBackend[], M: number, opts: MaglevOptions = {}): Uint32Array {
  checkSize(M);
  const seed = checkSeed(opts.seed ?? 0);
  const params = opts.params;
  if (params !== undefined && params.length !== backends.length) {
    throw new Error(`maglev params: ${params.length} given for ${backends.length} backends`);
  }

  const live: number[] = [];
  for (let i = 0; i < backends.length; i++) {
    const w = backends[i]!.weight;
    if (!Number.isInteger(w) || w < 0 || w > 0xffffffff) {
      throw new Error(`maglev backend ${JSON.stringify(backends[i]!.name)}: weight must be an integer in [0, 2^32), got ${w}`);
    }
    if (w > 0) live.push(i);
  }
  const n = live.length;
  if (n === 0) return new Uint32Array(0);
  if (M < n) {
    throw new Error(`maglev table size ${M} is smaller than the number of live backends (${n}); use a prime at least ~100x larger`);
  }

  // Canonical fill order: by name (code units, not locale).
  live.sort((a, b) => {
    const x = backends[a]!.name;
    const y = backends[b]!.name;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  for (let j = 1; j < n; j++) {
    if (backends[live[j]!]!.name === backends[live[j - 1]!]!.name) {
      throw new Error(`maglev: duplicate backend name ${JSON.stringify(backends[live[j]!]!.name)}`);
    }
  }

  const orig = new Uint32Array(n); // fill position -> index into backends
  const cur = new Uint32Array(n); // next candidate slot of each permutation
  const skip = new Uint32Array(n);
  const weight = new Float64Array(n);
  let maxW = 0;
  let equal = true;
  for (let j = 0; j < n; j++) {
    const i = live[j]!;
    orig[j] = i;
    let p: { offset: number; skip: number };
    if (params !== undefined) {
      p = params[i]!;
      if (!Number.isInteger(p.offset) || p.offset < 0 || p.offset >= M || !Number.isInteger(p.skip) || p.skip < 1 || p.skip >= M) {
        throw new Error(`maglev params[${i}]: need 0 <= offset < ${M} and 1 <= skip < ${M}, got (${p.offset}, ${p.skip})`);
      }
    } else {
      p = permutation(backends[i]!.name, M, seed);
    }
    cur[j] = p.offset;
    skip[j] = p.skip;
    const w = backends[i]!.weight;
    weight[j] = w;
    if (j > 0 && w !== maxW) equal = false;
    if (w > maxW) maxW = w;
  }

  const f: Fill = {
    M,
    n,
    table: new Uint32Array(M),
    used: new Int32Array((M + 31) >>> 5),
    cur,
    skip,
    orig,
  };
  if (equal) fillEqual(f);
  else if (n * maxW <= ROUND_LOOP_MAX_STEPS * weightSum(weight)) fillRounds(f, weight, maxW);
  else fillHeap(f, weight, maxW);
  return f.table;
}

/** Fill state; top-level functions over typed arrays keep V8's code tight. */
interface Fill {
  readonly M: number;
  readonly n: number;
  readonly table: Uint32Array;
  /**
   * Occupancy as a bitset: the probing walks jump around the table at
   * random, and M / 8 bytes stay in cache where 4 * M bytes do not.
   */
  readonly used: Int32Array;
  /** Next candidate slot of each permutation, by fill position. */
  readonly cur: Uint32Array;
  readonly skip: Uint32Array;
  /** Fill position -> index into the caller's backends. */
  readonly orig: Uint32Array;
}

function weightSum(w: Float64Array): number {
  let s = 0;
  for (let j = 0; j < w.length; j++) s += w[j]!;
  return s;
}

/** Backend j takes the next free slot of its permutation. */
function claim(f: Fill, j: number): void {
  const { M, used } = f;
  const s = f.skip[j]!;
  let c = f.cur[j]!;
  while ((used[c >>> 5]! >>> (c & 31)) & 1) {
    c += s;
    if (c >= M) c -= M;
  }
  used[c >>> 5]! |= 1 << (c & 31);
  f.table[c] = f.orig[j]!;
  c += s;
  if (c >= M) c -= M;
  f.cur[j] = c;
}

/** Algorithm 1 of the paper. */
function fillEqual(f: Fill): void {
  const { M, n } = f;
  let filled = 0;
  for (;;) {
    for (let j = 0; j < n; j++) {
      claim(f, j);
      if (++filled === M) return;
    }
  }
}

/**
 * Weighted rounds: every round each backend adds its weight w to its
 * accumulator, which starts at W - w so that everyone claims in round 1;
 * reaching W claims a slot and pays W. Costs n * W / sum(w) accumulator
 * steps per slot: for mild skew.
 */
function fillRounds(f: Fill, weight: Float64Array, maxW: number): void {
  const { M, n } = f;
  const acc = new Float64Array(n);
  for (let j = 0; j < n; j++) acc[j] = maxW - weight[j]!;
  let filled = 0;
  for (;;) {
    for (let j = 0; j < n; j++) {
      let a = acc[j]! + weight[j]!;
      if (a >= maxW) {
        a -= maxW;
        claim(f, j);
        if (++filled === M) return;
      }
      acc[j] = a;
    }
  }
}

/** Smallest integer q with q * w >= d (exact: values stay far below 2^53). */
function ceilDiv(d: number, w: number): number {
  let q = Math.floor(d / w);
  while (q * w < d) q++;
  while (q > 0 && (q - 1) * w >= d) q--;
  return q;
}

/**
 * The same claims as fillRounds, in the same (round, fill position) order,
 * from a binary min-heap of each backend's next claiming round: O(M log n)
 * whatever the skew. Keys live in heap order (round, position) so sifting
 * reads adjacent memory. acc[j] is backend j's accumulator after its last
 * claim, at round last[j] (initially W - w at round 0); its next claim is the
 * first round where the accumulator reaches W.
 */
function fillHeap(f: Fill, weight: Float64Array, maxW: number): void {
  const { M, n } = f;
  const acc = new Float64Array(n);
  const last = new Float64Array(n);
  const hRound = new Float64Array(n); // heap of keys: round ...
  const hPos = new Uint32Array(n); // ... then fill position
  for (let j = 0; j < n; j++) {
    acc[j] = maxW - weight[j]!;
    hRound[j] = 1; // everyone claims in round 1, in fill order: already a heap
    hPos[j] = j;
  }
  for (let filled = 0; filled < M; filled++) {
    const j = hPos[0]!;
    claim(f, j);
    const r = hRound[0]!;
    const w = weight[j]!;
    const a = acc[j]! + (r - last[j]!) * w - maxW; // in [0, w)
    acc[j] = a;
    last[j] = r;
    // Replace the root by (next round, j) and sift it down.
    const key = r + ceilDiv(maxW - a, w);
    let pos = 0;
    for (;;) {
      let child = 2 * pos + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && (hRound[right]! < hRound[child]! || (hRound[right] === hRound[child] && hPos[right]! < hPos[child]!))) {
        child = right;
      }
      const cr = hRound[child]!;
      if (cr > key || (cr === key && hPos[child]! > j)) break;
      hRound[pos] = cr;
      hPos[pos] = hPos[child]!;
      pos = child;
    }
    hRound[pos] = key;
    hPos[pos] = j;
  }
}
