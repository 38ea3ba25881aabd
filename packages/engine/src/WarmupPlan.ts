/**
 * Smart warmup, the pure half (domain.md §6): from what the cache holds, decide which range of which pair to
 * fetch (only the missing range, never the whole history), the schedule and stats Schemas, the progress math,
 * and filling the intervals an exchange left empty with synthetic candles.
 */
import { Candle, Exchange, Market, Timeframe, Warmup } from "@livermore/domain"
import { Schema } from "effect"

/** Contiguous closed candles a pair needs, ending at the most recent closed boundary (domain.md §6). */
export const defaultMinCandles = 60

/**
 * Why a pair is scheduled:
 * - `empty`: the cache holds nothing for it;
 * - `stale`: the newest closed boundary is missing (the cache stopped before it, or holds only older candles);
 * - `short`: the run ending at the boundary is too short and nothing older is held in the window;
 * - `gap`: the boundary is held but a hole lies inside the window, with held candles older than the hole.
 */
export const Reason = Schema.Literal("empty", "stale", "short", "gap")
export type Reason = typeof Reason.Type

/** One pair to fetch: closed candles with open times in `[from, to]` (ms, inclusive, aligned). */
export class Entry extends Schema.Class<Entry>("WarmupEntry")({
  symbol: Market.SymbolId,
  timeframe: Timeframe.Timeframe,
  from: Schema.Int,
  to: Schema.Int,
  reason: Reason
}) {}

/** The schedule written to `exchange:{id}:warm-up-schedule:symbols` before any REST call. */
export class Schedule extends Schema.Class<Schedule>("WarmupSchedule")({
  exchangeId: Exchange.ExchangeId,
  /** The time the scan took as "now", ms. */
  scannedAt: Schema.Int,
  minCandles: Schema.Int,
  /** Pairs scanned (symbols × timeframes). */
  totalPairs: Schema.NonNegativeInt,
  /** Pairs to fetch, in execution order (per symbol, largest timeframe first). */
  entries: Schema.Array(Entry)
}) {}

// The progress Schemas live in the domain package, which the admin web UI can import (this package it cannot).
export const Status = Warmup.Status
export type Status = Warmup.Status
export const Failure = Warmup.Failure
export type Failure = Warmup.Failure
export const Stats = Warmup.Stats
export type Stats = Warmup.Stats

/** What the cache holds for one pair, as the scan sees it. */
export interface Holding {
  readonly symbol: Market.SymbolId
  readonly timeframe: Timeframe.Timeframe
  /** Every candle the series holds (closed or forming, anywhere in time): 0 means `empty`. */
  readonly held: number
  /** Open times of the closed candles held inside `window(timeframe, now)`, any order. */
  readonly closed: ReadonlyArray<number>
}

/** The open times `[from, to]` a sufficient pair must hold: `minCandles` ending at the last closed boundary. */
export const window = (
  timeframe: Timeframe.Timeframe,
  now: number,
  minCandles: number = defaultMinCandles
): { readonly from: number; readonly to: number } => {
  const to = Timeframe.lastClosedOpenTime(timeframe, now)
  return { from: to - (minCandles - 1) * Timeframe.durationMs[timeframe], to }
}

/** The range to fetch for one pair, or undefined when it is sufficient. */
export const entryFor = (holding: Holding, now: number, minCandles: number = defaultMinCandles): Entry | undefined => {
  const { symbol, timeframe } = holding
  const { from: start, to: boundary } = window(timeframe, now, minCandles)
  const present = new Set(holding.closed)
  const missing = Timeframe.openTimesBetween(timeframe, start, boundary).filter((t) => !present.has(t))
  const firstMissing = missing[0]
  const lastMissing = missing[missing.length - 1]
  if (firstMissing === undefined || lastMissing === undefined) return undefined
  const entry = (from: number, to: number, reason: Reason) => new Entry({ symbol, timeframe, from, to, reason })
  if (holding.held === 0) return entry(start, boundary, "empty")
  // The boundary itself is missing: fetch from the first missing open time (the candle after the newest held one
  // when the run behind it already reaches the window start) up to the boundary.
  if (lastMissing === boundary) return entry(firstMissing, boundary, "stale")
  const heldBeforeHole = holding.closed.some((t) => t >= start && t < lastMissing)
  return heldBeforeHole ? entry(firstMissing, lastMissing, "gap") : entry(start, lastMissing, "short")
}

/** A warmup plan: the entries to fetch and how many pairs were found sufficient. */
export interface Plan {
  readonly totalPairs: number
  readonly skippedPairs: number
  readonly entries: ReadonlyArray<Entry>
}

/** Timeframes in scan order: largest first, keeping only the requested ones (duplicates dropped). */
export const scanOrder = (timeframes: ReadonlyArray<Timeframe.Timeframe>): ReadonlyArray<Timeframe.Timeframe> =>
  Timeframe.largestFirst.filter((timeframe) => timeframes.includes(timeframe))

/** The pairs to scan, in scan order: per symbol (as given), largest timeframe first. */
export const pairs = (
  symbols: ReadonlyArray<Market.SymbolId>,
  timeframes: ReadonlyArray<Timeframe.Timeframe>
): ReadonlyArray<{ readonly symbol: Market.SymbolId; readonly timeframe: Timeframe.Timeframe }> =>
  [...new Set(symbols)].flatMap((symbol) => scanOrder(timeframes).map((timeframe) => ({ symbol, timeframe })))

/** Plan warmup from the holdings of every pair (in scan order): one entry per insufficient pair. */
export const plan = (holdings: ReadonlyArray<Holding>, now: number, minCandles: number = defaultMinCandles): Plan => {
  const entries = holdings.flatMap((holding) => {
    const entry = entryFor(holding, now, minCandles)
    return entry === undefined ? [] : [entry]
  })
  return { totalPairs: holdings.length, skippedPairs: holdings.length - entries.length, entries }
}

/** Percent of `scheduled` pairs done, floored to one decimal so 100 means all done; 100 when none is scheduled. */
export const percentComplete = (done: number, scheduled: number): number =>
  scheduled <= 0 ? 100 : Math.min(100, Math.floor((done / scheduled) * 1000) / 10)

/** Seconds left at the average pace so far: null before the first pair is done, 0 once all are. */
export const etaSeconds = (elapsedMs: number, done: number, scheduled: number): number | null => {
  if (done >= scheduled) return 0
  if (done <= 0) return null
  return Math.ceil(((Math.max(0, elapsedMs) / done) * (scheduled - done)) / 1000)
}

/**
 * The candles to store for a fetched range `[from, to]`: the real ones, plus a synthetic candle (previous close,
 * zero volume) for every open time in the range the exchange left empty after the first known close. `previous`
 * is the close just before `from` (from the cache or a look-back), if known; without it nothing is invented
 * before the first real candle. Real candles outside the range are dropped; the result is oldest first.
 */
export const fillEmpty = (
  timeframe: Timeframe.Timeframe,
  range: { readonly from: number; readonly to: number },
  real: ReadonlyArray<Candle.Candle>,
  previous: number | undefined
): ReadonlyArray<Candle.Candle> => {
  const byOpenTime = new Map<number, Candle.Candle>()
  for (const candle of real) {
    if (candle.closed && candle.openTime >= range.from && candle.openTime <= range.to) byOpenTime.set(candle.openTime, candle)
  }
  const out: Array<Candle.Candle> = []
  let close = previous
  for (const openTime of Timeframe.openTimesBetween(timeframe, range.from, range.to)) {
    const candle = byOpenTime.get(openTime)
    if (candle !== undefined) {
      out.push(candle)
      close = candle.close
    } else if (close !== undefined) {
      out.push(Candle.synthetic(openTime, close))
    }
  }
  return out
}
