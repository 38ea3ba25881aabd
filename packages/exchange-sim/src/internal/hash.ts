/** Counter-based deterministic randomness: every deviate is a pure function of (seed, stream, tag, index). */

const mix = (h: number, k: number): number => {
  let x = Math.imul(k | 0, 0xcc9e2d51)
  x = (x << 15) | (x >>> 17)
  x = Math.imul(x, 0x1b873593)
  let y = h ^ x
  y = (y << 13) | (y >>> 19)
  return (Math.imul(y, 5) + 0xe6546b64) | 0
}

const finish = (h: number): number => {
  let x = h ^ (h >>> 16)
  x = Math.imul(x, 0x85ebca6b)
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35)
  x ^= x >>> 16
  return x >>> 0
}

const TWO_32 = 4_294_967_296

/** A 32-bit hash of four integers; `index` may be any non-negative integer below 2^53. */
export const hash = (seed: number, stream: number, tag: number, index: number): number =>
  finish(mix(mix(mix(mix(seed | 0, stream), tag), index % TWO_32), Math.floor(index / TWO_32)))

/** A uniform deviate in (0, 1). */
export const uniform = (seed: number, stream: number, tag: number, index: number): number =>
  (hash(seed, stream, tag, index) + 0.5) / TWO_32

/** A standard normal deviate (Box–Muller over two hashed uniforms, on tags apart from `uniform`'s). */
export const normal = (seed: number, stream: number, tag: number, index: number): number => {
  const u1 = uniform(seed, stream, 0x10000 + tag * 2, index)
  const u2 = uniform(seed, stream, 0x10001 + tag * 2, index)
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
}
