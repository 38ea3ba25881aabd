/**
 * The flood breaker of alert delivery: when one series (exchange + symbol + timeframe) fires more than `max`
 * alerts within `window`, its breaker opens and its alerts are stored but not delivered, until the window no
 * longer holds more than `max` of them. Pure bookkeeping, no effects; the clock is the caller's.
 *
 * Every alert counts, suppressed ones included: a flood that goes on keeps the breaker open, rather than letting
 * `max` alerts through every window.
 */
import type { Alert } from "@livermore/domain"
import { Duration } from "effect"

/** The default: more than 15 alerts of one series… */
export const defaultMax = 15

/** …within 3 minutes open its breaker. */
export const defaultWindow: Duration.Duration = Duration.minutes(3)

/** The limits of a breaker. */
export interface Options {
  /** Alerts of one series allowed within `window`; one more opens the breaker. A positive integer. Default 15. */
  readonly max?: number | undefined
  /** The sliding window. Positive and finite. Default 3 minutes. */
  readonly window?: Duration.DurationInput | undefined
}

/** What `record` decided for one alert. */
export interface Decision {
  /** Deliver it: the series' breaker is closed (after counting this alert). */
  readonly allowed: boolean
  /** This alert opened the breaker (it was closed before): true once per flood, to warn once. */
  readonly opened: boolean
  /** This alert found the breaker open and closed it (the window emptied enough): true once per flood. */
  readonly closed: boolean
  /** Alerts of the series counted in the window, this one included, at most `max + 1`. */
  readonly count: number
}

/** The series an alert belongs to: `{exchangeId}:{symbol}:{timeframe}`. */
export const seriesKey = (alert: Pick<Alert.Alert, "exchangeId" | "symbol" | "timeframe">): string =>
  `${alert.exchangeId}:${alert.symbol}:${alert.timeframe}`

/**
 * The window's length for humans, e.g. `3 minutes`, `90 seconds`, `1500 ms` (the breaker's suppression message
 * names it).
 */
export const describeWindow = (window: Duration.DurationInput): string => {
  const ms = Duration.toMillis(window)
  const unit = (n: number, name: string) => `${n} ${name}${n === 1 ? "" : "s"}`
  if (ms % 3_600_000 === 0) return unit(ms / 3_600_000, "hour")
  if (ms % 60_000 === 0) return unit(ms / 60_000, "minute")
  if (ms % 1_000 === 0) return unit(ms / 1_000, "second")
  return `${ms} ms`
}

/**
 * The newest `capacity` timestamps of one series, oldest first, in a ring. Keeping only `max + 1` is enough:
 * the window holds more than `max` alerts exactly when the `max + 1` newest all lie in it.
 */
class Ring {
  readonly times: Float64Array
  head = 0
  size = 0
  open = false
  newest = Number.NEGATIVE_INFINITY

  constructor(capacity: number) {
    this.times = new Float64Array(capacity)
  }

  /** Drop timestamps at or before `horizon` (older than the window). */
  dropUpTo(horizon: number): void {
    while (this.size > 0 && this.times[this.head]! <= horizon) {
      this.head = (this.head + 1) % this.times.length
      this.size -= 1
    }
  }

  push(time: number): void {
    if (this.size === this.times.length) {
      this.head = (this.head + 1) % this.times.length
      this.size -= 1
    }
    this.times[(this.head + this.size) % this.times.length] = time
    this.size += 1
    this.newest = time
  }
}

/**
 * The breakers of every series, mutable, for one fiber (or several that never interleave inside `record`, which is
 * synchronous). `record` is O(1) amortized; memory is O(`max`) per series seen within the last window: series idle
 * for a whole window with a closed breaker are forgotten by a sweep that runs at most once per window (an open one
 * is kept, so its closing is still reported by the next `record`).
 */
export class AlertBreaker {
  /** Alerts allowed per series within `windowMs`. */
  readonly max: number
  /** The window, in milliseconds. */
  readonly windowMs: number
  private readonly series = new Map<string, Ring>()
  private lastSweep = Number.NEGATIVE_INFINITY
  private latest = Number.NEGATIVE_INFINITY

  /** Throws a `RangeError` when `max` is not a positive integer or `window` is not positive and finite. */
  constructor(options: Options = {}) {
    const max = options.max ?? defaultMax
    const window = Duration.decodeUnknown(options.window ?? defaultWindow)
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`AlertBreaker: max must be a positive integer, got ${max}`)
    if (window._tag === "None" || !Duration.isFinite(window.value) || Duration.toMillis(window.value) <= 0) {
      throw new RangeError(`AlertBreaker: window must be a positive, finite duration, got ${String(options.window)}`)
    }
    this.max = max
    this.windowMs = Duration.toMillis(window.value)
  }

  /**
   * Count one alert of `key` at `nowMs` and decide whether to deliver it. A clock that steps back is treated as
   * standing still (the newest time seen is used), so the window only slides forward.
   */
  record(key: string, nowMs: number): Decision {
    const now = Math.max(nowMs, this.latest)
    this.latest = now
    const horizon = now - this.windowMs
    this.sweep(now, horizon)
    let ring = this.series.get(key)
    if (ring === undefined) {
      ring = new Ring(this.max + 1)
      this.series.set(key, ring)
    }
    ring.dropUpTo(horizon)
    ring.push(now)
    const wasOpen = ring.open
    ring.open = ring.size > this.max
    return { allowed: !ring.open, opened: ring.open && !wasOpen, closed: wasOpen && !ring.open, count: ring.size }
  }

  /** Whether the breaker of `key` is open, as last recorded (it closes on the series' next `record`). */
  isOpen(key: string): boolean {
    return this.series.get(key)?.open ?? false
  }

  /** Series currently tracked (seen within about the last two windows, or open). */
  get trackedSeries(): number {
    return this.series.size
  }

  private sweep(now: number, horizon: number): void {
    if (now - this.lastSweep < this.windowMs) return
    this.lastSweep = now
    for (const [key, ring] of this.series) {
      if (!ring.open && ring.newest <= horizon) this.series.delete(key)
    }
  }
}

/** A breaker with `options` (see `AlertBreaker`'s constructor). */
export const make = (options: Options = {}): AlertBreaker => new AlertBreaker(options)
