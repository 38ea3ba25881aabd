/**
 * One series on the live path (domain.md §7), without IO: the MACD-V accumulator, the alert rules' state, the
 * open time of the last closed candle applied, and the closed candles that arrived ahead of a hole. The pipeline
 * decides what to do with each closed candle through `classify`; a candle is applied only when it is the next
 * one after `lastOpenTime`, so no indicator step ever runs across a hole. Everything here is synchronous, which
 * is what lets the batch path and a repair fiber share a track safely: each mutation happens in one JS turn.
 */
import { type Candle, Timeframe } from "@livermore/domain"
import { AlertRules, MacdV } from "@livermore/indicators"
import type * as IndicatorRecord from "./IndicatorRecord.js"

/** A series as keys and records name it. */
export interface SeriesId {
  readonly exchangeId: IndicatorRecord.IndicatorRecord["exchangeId"]
  readonly symbol: IndicatorRecord.IndicatorRecord["symbol"]
  readonly timeframe: Timeframe.Timeframe
}

/** What a closed candle means for the track. */
export type Classified =
  /** Already applied (a replay, a REST repair that overtook the stream): nothing to do. */
  | "duplicate"
  /** The next candle: apply it now. */
  | "next"
  /** A repair is running: the candle waits in `pending` and is applied when the repair reaches it. */
  | "held"
  /** A hole lies before it: the candle waits in `pending`; a repair must be started. */
  | "gap"

/** The outcome of priming a track from its stored record and the cached candles. */
export type Primed =
  | { readonly _tag: "Resumed"; readonly applied: number }
  | { readonly _tag: "Recomputed"; readonly applied: number }
  | { readonly _tag: "Empty" }

/** The live state of one series. */
export class SeriesTrack {
  readonly timeframeMs: number
  accumulator = new MacdV.Accumulator()
  alerts: AlertRules.State = AlertRules.initial
  /** Open time of the last closed candle applied; null before any. */
  lastOpenTime: number | null = null
  /** Closed candles that arrived after a hole, by open time; applied in order once the hole is filled. */
  readonly pending = new Map<number, Candle.Candle>()
  /** A repair of this series is in flight. */
  repairing = false
  /** The last closed candle is older than the staleness bound (see `isStale`). */
  stale = false

  constructor(readonly series: SeriesId) {
    this.timeframeMs = Timeframe.durationMs[series.timeframe]
  }

  /** Sort a closed candle into what to do with it (and hold it in `pending` when it cannot be applied yet). */
  classify(candle: Candle.Candle): Classified {
    const last = this.lastOpenTime
    if (last !== null && candle.openTime <= last) return "duplicate"
    if (this.repairing) {
      this.pending.set(candle.openTime, candle)
      return "held"
    }
    // A series with no history at all starts with whatever closes first.
    if (last === null || candle.openTime === last + this.timeframeMs) return "next"
    this.pending.set(candle.openTime, candle)
    return "gap"
  }

  /**
   * Apply the next closed candle: one MACD-V step and one evaluation of the alert rules (whose state always
   * advances, so cooldowns match a recomputation). Returns the alerts to fire: none unless `fire` and the
   * candle is fresh — an alert from old data is worse than none (domain.md §7).
   */
  apply(candle: Candle.Candle, now: number, graceMs: number, fire: boolean): ReadonlyArray<AlertRules.Fired> {
    this.accumulator.push(candle)
    const evaluated = AlertRules.evaluate(this.alerts, {
      reading: this.accumulator.reading(),
      candleOpenTime: candle.openTime,
      closeTime: candle.openTime + this.timeframeMs,
      price: candle.close
    })
    this.alerts = evaluated.state
    this.lastOpenTime = candle.openTime
    this.pending.delete(candle.openTime)
    return fire && this.isFresh(candle.openTime, now, graceMs) ? evaluated.fired : []
  }

  /** Whether a candle opened at `openTime` is recent enough to alert on: at most 2 × timeframe + grace old. */
  isFresh(openTime: number, now: number, graceMs: number): boolean {
    return now - openTime <= 2 * this.timeframeMs + graceMs
  }

  /** Whether the series has gone quiet: its last closed candle is older than 2 × timeframe + grace. */
  isStale(now: number, graceMs: number): boolean {
    return this.lastOpenTime !== null && !this.isFresh(this.lastOpenTime, now, graceMs)
  }

  /** The held candles that now follow `lastOpenTime` without a hole, in order (removed from `pending` as applied). */
  ready(): ReadonlyArray<Candle.Candle> {
    const out: Array<Candle.Candle> = []
    let next = this.lastOpenTime === null ? undefined : this.lastOpenTime + this.timeframeMs
    if (next === undefined) return out
    for (let candle = this.pending.get(next); candle !== undefined; candle = this.pending.get(next)) {
      out.push(candle)
      next += this.timeframeMs
    }
    return out
  }

  /**
   * The open times still missing before the earliest held candle, or up to `upTo` when nothing is held (a
   * repair after a reconnect or a staleness check). Undefined when there is no hole to fill.
   */
  missing(upTo?: number): { readonly from: number; readonly to: number } | undefined {
    if (this.lastOpenTime === null) return undefined
    const from = this.lastOpenTime + this.timeframeMs
    let earliest: number | undefined
    for (const openTime of this.pending.keys()) if (earliest === undefined || openTime < earliest) earliest = openTime
    const to = earliest === undefined ? upTo : earliest - this.timeframeMs
    return to === undefined || to < from ? undefined : { from, to }
  }

  /**
   * Start from the stored record and the cached closed candles (ascending). A record whose last candle is still
   * followed by the cache without a hole resumes: the candles after it are applied, firing for the fresh ones
   * (alerts a restart would otherwise miss); candles beyond a later hole are held for repair. A missing record,
   * or one the cache no longer reaches, is recomputed from the cache's newest contiguous run without firing:
   * history seen for the first time is not news.
   */
  prime(
    stored: IndicatorRecord.IndicatorRecord | undefined,
    cachedClosed: ReadonlyArray<Candle.Candle>,
    now: number,
    graceMs: number
  ): { readonly primed: Primed; readonly fired: ReadonlyArray<AlertRules.Fired> } {
    const fired: Array<AlertRules.Fired> = []
    // A repair interrupted with the previous live stream left its flag and held candles behind.
    this.repairing = false
    this.stale = false
    this.pending.clear()
    if (stored !== undefined && stored.lastOpenTime !== null) {
      const last = stored.lastOpenTime
      const after = cachedClosed.filter((candle) => candle.openTime > last)
      if (after.length === 0 || after[0]!.openTime === last + this.timeframeMs) {
        this.accumulator = MacdV.Accumulator.from(stored.state)
        this.alerts = stored.alerts
        this.lastOpenTime = last
        let applied = 0
        for (const candle of after) {
          if (this.classify(candle) !== "next") continue
          fired.push(...this.apply(candle, now, graceMs, true))
          applied++
        }
        return { primed: { _tag: "Resumed", applied }, fired }
      }
    }
    let start = cachedClosed.length - 1
    if (start < 0) return { primed: { _tag: "Empty" }, fired }
    while (start > 0 && cachedClosed[start - 1]!.openTime === cachedClosed[start]!.openTime - this.timeframeMs) start--
    this.accumulator = new MacdV.Accumulator()
    this.alerts = AlertRules.initial
    this.lastOpenTime = null
    for (let i = start; i < cachedClosed.length; i++) this.apply(cachedClosed[i]!, now, graceMs, false)
    return { primed: { _tag: "Recomputed", applied: cachedClosed.length - start }, fired }
  }
}
