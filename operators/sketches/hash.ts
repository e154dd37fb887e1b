// 32-bit string hashing for the sketches.
//
// MurmurHash3 x86_32 (Austin Appleby, public domain; smhasher/src/MurmurHash3.cpp) over the string's
// UTF-16 code units, two code units per 32-bit block. Hashing code units rather than UTF-8 bytes
// skips an encode per call; the sketches only need a well-mixed, seeded, deterministic function,
// not compatibility with other implementations. The seed picks an independent function, which
// count-min uses for its rows (via double hashing, see countmin.ts).

const C1 = 0xcc9e2d51
const C2 = 0x1b873593

/** MurmurHash3 x86_32 of s's UTF-16 code units, as an unsigned 32-bit integer. */
export function murmur3(s: string, seed = 0): number {
  let h = seed >>> 0
  const n = s.length
  const pairs = n & ~1
  let i = 0
  for (; i < pairs; i += 2) {
    let k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16)
    k = Math.imul(k, C1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, C2)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  if (i < n) {
    let k = s.charCodeAt(i)
    k = Math.imul(k, C1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, C2)
    h ^= k
  }
  h ^= n * 2
  return fmix32(h)
}

/** Murmur3's finaliser: a bijective avalanche of a 32-bit integer. */
export function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
