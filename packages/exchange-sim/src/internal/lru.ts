/**
 * A bounded memo cache with two generations: hits in the old generation are promoted; when the young one is
 * full it becomes the old one. O(1) per operation, at most `capacity` entries, recently used ones survive.
 */
export class Lru<K, V> {
  private young = new Map<K, V>()
  private old = new Map<K, V>()
  private readonly half: number

  constructor(capacity: number) {
    this.half = Math.max(1, Math.floor(capacity / 2))
  }

  get(key: K): V | undefined {
    const hit = this.young.get(key)
    if (hit !== undefined) return hit
    const older = this.old.get(key)
    if (older !== undefined) this.set(key, older)
    return older
  }

  set(key: K, value: V): void {
    if (this.young.size >= this.half) {
      this.old = this.young
      this.young = new Map()
    }
    this.young.set(key, value)
  }

  getOrCompute(key: K, compute: () => V): V {
    const hit = this.get(key)
    if (hit !== undefined) return hit
    const value = compute()
    this.set(key, value)
    return value
  }

  /** Drop every entry whose key satisfies `predicate` (O(size); for rare invalidations). */
  deleteWhere(predicate: (key: K) => boolean): void {
    for (const generation of [this.young, this.old]) {
      for (const key of [...generation.keys()]) if (predicate(key)) generation.delete(key)
    }
  }

  clear(): void {
    this.young.clear()
    this.old.clear()
  }
}
