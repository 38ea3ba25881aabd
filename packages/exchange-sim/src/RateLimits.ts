/**
 * REST rate limiting as the venues do it (real time, not sim time): Binance's per-minute request weight with
 * 429 back-off and escalating 418 bans, and Coinbase's requests per second.
 */

/** The verdict on one request. */
export type Verdict =
  | { readonly _tag: "Allowed"; readonly usedWeight: number }
  | { readonly _tag: "RateLimited"; readonly usedWeight: number; readonly retryAfterSeconds: number }
  | { readonly _tag: "Banned"; readonly usedWeight: number; readonly retryAfterSeconds: number }

/** Binance weight accounting options (see `BinanceOptions`). */
export interface WeightOptions {
  readonly weightPerMinute: number
  readonly weightWindowMs: number
  readonly banAfterRejected: number
  readonly banBaseMs: number
  readonly banMaxMs: number
}

const seconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000))

/**
 * Binance `REQUEST_WEIGHT`: fixed windows aligned to the window length. A request whose weight would take the
 * window past the limit is refused with 429 and `Retry-After` = seconds to the window's end, and opens a back-off
 * that lasts to the window's end. More than `banAfterRejected` requests during a back-off ban the IP (418): 2 min,
 * then doubling per ban up to `banMaxMs`; during a ban every request gets 418 with the seconds left.
 */
export class BinanceWeights {
  private windowStart = 0
  private used = 0
  private backoffUntil = 0
  private rejectedInBackoff = 0
  private banUntil = 0
  private bans = 0

  constructor(private readonly options: WeightOptions) {}

  /** Weight used in the current window at `now` (real ms). */
  usedAt(now: number): number {
    this.roll(now)
    return this.used
  }

  /** Account a request of `weight` at `now` (real ms). */
  check(now: number, weight: number): Verdict {
    this.roll(now)
    if (now < this.banUntil) {
      return { _tag: "Banned", usedWeight: this.used, retryAfterSeconds: seconds(this.banUntil - now) }
    }
    if (now < this.backoffUntil) {
      this.rejectedInBackoff++
      if (this.rejectedInBackoff > this.options.banAfterRejected) {
        this.bans++
        const length = Math.min(this.options.banMaxMs, this.options.banBaseMs * 2 ** (this.bans - 1))
        this.banUntil = now + length
        this.backoffUntil = 0
        this.rejectedInBackoff = 0
        return { _tag: "Banned", usedWeight: this.used, retryAfterSeconds: seconds(length) }
      }
      return { _tag: "RateLimited", usedWeight: this.used, retryAfterSeconds: seconds(this.backoffUntil - now) }
    }
    if (this.used + weight > this.options.weightPerMinute) {
      this.backoffUntil = this.windowStart + this.options.weightWindowMs
      this.rejectedInBackoff = 0
      return { _tag: "RateLimited", usedWeight: this.used, retryAfterSeconds: seconds(this.backoffUntil - now) }
    }
    this.used += weight
    return { _tag: "Allowed", usedWeight: this.used }
  }

  /** Forget all usage, back-offs and bans. */
  reset(): void {
    this.windowStart = 0
    this.used = 0
    this.backoffUntil = 0
    this.rejectedInBackoff = 0
    this.banUntil = 0
    this.bans = 0
  }

  private roll(now: number): void {
    const start = Math.floor(now / this.options.weightWindowMs) * this.options.weightWindowMs
    if (start !== this.windowStart) {
      this.windowStart = start
      this.used = 0
    }
  }
}

/** Coinbase public REST: at most `perSecond` requests in any sliding second; refused requests do not count. */
export class RequestsPerSecond {
  private readonly times: Array<number> = []

  constructor(private readonly perSecond: number) {}

  /** Whether a request at `now` (real ms) is allowed (and record it if so). */
  allow(now: number): boolean {
    while (this.times.length > 0 && this.times[0]! <= now - 1000) this.times.shift()
    if (this.times.length >= this.perSecond) return false
    this.times.push(now)
    return true
  }

  /** Forget all requests. */
  reset(): void {
    this.times.length = 0
  }
}

/** Inbound WebSocket message rate of one connection: sliding one-second window. */
export class MessageRate {
  private readonly times: Array<number> = []

  constructor(private readonly perSecond: number) {}

  /** Record a message at `now`; false when it makes more than `perSecond` in the last second. */
  record(now: number): boolean {
    while (this.times.length > 0 && this.times[0]! <= now - 1000) this.times.shift()
    this.times.push(now)
    return this.times.length <= this.perSecond
  }
}
