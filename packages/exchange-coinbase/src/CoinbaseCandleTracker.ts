/**
 * Live candle bookkeeping for Coinbase, which streams only 5-minute candles and never says when one is final
 * (exchanges.md §2.3, domain.md §7): decides when a 5m candle closes — a later `start` for the product arrives, or
 * the exchange clock passes `start + 300 s` (plus a grace for the last update in flight), with one timer per
 * product — and builds 15m/1h/4h/1d candles from the closed 5m ones.
 *
 * A higher candle is emitted closed only when the stream saw its whole interval: Coinbase omits 5m buckets in
 * which nothing traded, so "no 5m candle" is proof of "no trade" only while the connection was up with no gap.
 * Buckets that started before the first candle seen, or that span a reconnect or a sequence gap, are skipped
 * (logged); the engine repairs them from REST like any other missing open time.
 *
 * A loss of the connection is told at once (`disrupt`), not only at the reconnect: from then on the 5m candle
 * that was forming is not closed by its timer, since its last updates may be gone with the connection. When the
 * stream is back, the product's next candle decides: the same bucket again (the snapshot) supersedes it, and
 * nothing was lost; a later one means the forming bucket is dropped unclosed and left, with every higher bucket
 * holding it, to REST repair — a candle closed with pre-outage values would be a wrong number in the history.
 */
import { Candle, type Market, Timeframe } from "@livermore/domain"
import { MarketEvent } from "@livermore/exchange"
import { Clock, Deferred, Duration, Effect, FiberSet, type Scope } from "effect"
import * as ExchangeClock from "./internal/exchangeClock.js"

const fiveMinutes = Timeframe.durationMs["5m"]

/**
 * A move of the exchange-clock offset this large (ms) wakes the timers to re-plan: network jitter stays below
 * it, while a simulator's faster clock (or a stepped local clock) goes past it.
 */
const offsetJumpMs = 1000

/** An interval not emitted closed because the stream did not see all of it (5m: its last updates may be lost). */
export interface Incomplete {
  readonly symbol: Market.SymbolId
  readonly timeframe: Timeframe.Timeframe
  readonly openTime: number
}

/** A 5m update that arrived for a bucket already closed (or older than the current one) and was dropped. */
export interface Late {
  readonly symbol: Market.SymbolId
  readonly openTime: number
}

/** What one step produced: events to emit, plus notes for the log. */
export interface Step {
  readonly events: Array<MarketEvent.MarketEvent>
  readonly incomplete: Array<Incomplete>
  readonly late: Array<Late>
}

interface Bucket {
  readonly openTime: number
  /** Closed 5m candles of the bucket, in time order. */
  readonly parts: Array<Candle.Candle>
}

interface ProductState {
  /** The 5m candle still forming, if any. */
  current: Candle.Candle | undefined
  /** Open time of the last closed 5m candle. */
  lastClosed: number
  /** Open time of the last 5m candle received. */
  lastSeen: number | undefined
  /** Start of the current stretch in which every 5m bucket was seen (or provably empty). */
  knownFrom: number | undefined
  /**
   * Exchange time at which messages may have started to be lost (a connection loss, a sequence gap), cleared by
   * the next candle, which decides what was lost. Nothing forming is closed by time meanwhile.
   */
  disruptedAt: number | undefined
  /** Open higher-timeframe buckets holding closed 5m parts. */
  readonly buckets: Map<Timeframe.Timeframe, Bucket>
  /** A timer fiber is running for this product (set and cleared under the tracker's lock). */
  timerActive: boolean
}

/** The pure state of a tracker: one entry per product. */
export interface State {
  /** Higher timeframes built (15m, 1h, 4h, 1d among those wanted). */
  readonly higher: ReadonlyArray<Timeframe.Timeframe>
  /** Whether 5m candles themselves are emitted. */
  readonly emitBase: boolean
  /** Extra ms past a bucket's end before the timer closes it. */
  readonly graceMs: number
  readonly products: Map<Market.SymbolId, ProductState>
}

/** A fresh state building `timeframes` (5m included or not), with `graceMs` of grace for timer closes. */
export const initial = (timeframes: ReadonlyArray<Timeframe.Timeframe>, graceMs: number): State => ({
  higher: Timeframe.all.filter((tf) => tf !== "5m" && timeframes.includes(tf)),
  emitBase: timeframes.includes("5m"),
  graceMs,
  products: new Map()
})

const productState = (state: State, symbol: Market.SymbolId): ProductState => {
  let p = state.products.get(symbol)
  if (p === undefined) {
    p = {
      current: undefined,
      lastClosed: Number.NEGATIVE_INFINITY,
      lastSeen: undefined,
      knownFrom: undefined,
      disruptedAt: undefined,
      buckets: new Map(),
      timerActive: false
    }
    state.products.set(symbol, p)
  }
  return p
}

const emptyStep = (): Step => ({ events: [], incomplete: [], late: [] })

/** The aggregate of `parts` (non-empty, in time order) as one candle of the bucket opening at `openTime`. */
export const aggregate = (openTime: number, parts: ReadonlyArray<Candle.Candle>, closed: boolean): Candle.Candle => {
  const first = parts[0]!
  let high = first.high
  let low = first.low
  let volume = 0
  for (const part of parts) {
    if (part.high > high) high = part.high
    if (part.low < low) low = part.low
    volume += part.volume
  }
  return new Candle.Candle({
    openTime,
    open: first.open,
    high,
    low,
    close: parts[parts.length - 1]!.close,
    volume,
    closed,
    synthetic: false
  })
}

const candleEvent = (symbol: Market.SymbolId, timeframe: Timeframe.Timeframe, candle: Candle.Candle) =>
  MarketEvent.MarketEvent.Candle({ symbol, timeframe, candle })

const complete = (p: ProductState, openTime: number): boolean => p.knownFrom !== undefined && openTime >= p.knownFrom

const finalize = (symbol: Market.SymbolId, p: ProductState, tf: Timeframe.Timeframe, step: Step) => {
  const bucket = p.buckets.get(tf)
  if (bucket === undefined) return
  p.buckets.delete(tf)
  if (bucket.parts.length === 0) return
  if (!complete(p, bucket.openTime)) {
    step.incomplete.push({ symbol, timeframe: tf, openTime: bucket.openTime })
    return
  }
  step.events.push(candleEvent(symbol, tf, aggregate(bucket.openTime, bucket.parts, true)))
}

/** Finalize every open higher bucket that ends at or before `time`. */
const finalizeEndedBy = (state: State, symbol: Market.SymbolId, p: ProductState, time: number, step: Step) => {
  for (const tf of state.higher) {
    const bucket = p.buckets.get(tf)
    if (bucket !== undefined && Timeframe.closeTime(tf, bucket.openTime) <= time) finalize(symbol, p, tf, step)
  }
}

const closeCurrent = (state: State, symbol: Market.SymbolId, p: ProductState, step: Step) => {
  const current = p.current
  if (current === undefined) return
  p.current = undefined
  p.lastClosed = current.openTime
  const closed = new Candle.Candle({ ...current, closed: true })
  if (state.emitBase) step.events.push(candleEvent(symbol, "5m", closed))
  const end = current.openTime + fiveMinutes
  for (const tf of state.higher) {
    const openTime = Timeframe.floor(tf, current.openTime)
    const existing = p.buckets.get(tf)
    if (existing !== undefined && existing.openTime !== openTime) finalize(symbol, p, tf, step)
    const bucket = p.buckets.get(tf) ?? { openTime, parts: [] }
    bucket.parts.push(closed)
    p.buckets.set(tf, bucket)
    if (Timeframe.closeTime(tf, openTime) === end) finalize(symbol, p, tf, step)
  }
}

/** The forming candle may have lost its last updates: drop it unclosed, so only REST ever closes that bucket. */
const discardCurrent = (symbol: Market.SymbolId, p: ProductState, step: Step) => {
  const current = p.current
  if (current === undefined) return
  p.current = undefined
  p.lastClosed = current.openTime
  step.incomplete.push({ symbol, timeframe: "5m", openTime: current.openTime })
}

/**
 * While disrupted since `disruptedAt`: the time up to which higher buckets may still be finalized — those that
 * ended (plus grace) before the loss and hold no forming candle.
 */
const seenUntil = (state: State, p: ProductState, disruptedAt: number): number =>
  Math.min(disruptedAt - state.graceMs, p.current === undefined ? Number.POSITIVE_INFINITY : p.current.openTime)

const emitForming = (state: State, symbol: Market.SymbolId, p: ProductState, step: Step) => {
  const current = p.current
  if (current === undefined) return
  if (state.emitBase) step.events.push(candleEvent(symbol, "5m", current))
  for (const tf of state.higher) {
    const openTime = Timeframe.floor(tf, current.openTime)
    if (!complete(p, openTime)) continue
    const bucket = p.buckets.get(tf)
    const parts = bucket !== undefined && bucket.openTime === openTime ? [...bucket.parts, current] : [current]
    step.events.push(candleEvent(symbol, tf, aggregate(openTime, parts, false)))
  }
}

/**
 * Take one 5m update of `symbol` (its `closed` flag is ignored). A later `start` than the forming candle closes
 * the forming one, and every higher bucket that ends by then. An update for a bucket already closed is late and
 * dropped, so each bucket closes exactly once.
 */
export const ingest = (state: State, symbol: Market.SymbolId, candle: Candle.Candle): Step => {
  const step = emptyStep()
  const p = productState(state, symbol)
  const start = candle.openTime
  if (start <= p.lastClosed || (p.current !== undefined && start < p.current.openTime)) {
    step.late.push({ symbol, openTime: start })
    return step
  }
  if (p.knownFrom === undefined) p.knownFrom = start
  // After a disruption, re-receiving the last bucket proves nothing was lost; anything later leaves a hole.
  else if (p.disruptedAt !== undefined && start !== p.lastSeen) {
    // What had ended before the loss was seen whole: close it while it still counts as complete.
    finalizeEndedBy(state, symbol, p, seenUntil(state, p, p.disruptedAt), step)
    discardCurrent(symbol, p, step)
    p.knownFrom = start
  }
  p.disruptedAt = undefined
  p.lastSeen = start
  if (p.current !== undefined && start > p.current.openTime) closeCurrent(state, symbol, p, step)
  finalizeEndedBy(state, symbol, p, start, step)
  p.current = candle.closed ? new Candle.Candle({ ...candle, closed: false }) : candle
  emitForming(state, symbol, p, step)
  return step
}

/**
 * Close by time: at exchange time `now`, the forming 5m candle closes once `start + 300 s + grace` has passed,
 * and higher buckets once their end plus grace has.
 */
export const advance = (state: State, symbol: Market.SymbolId, now: number): Step => {
  const step = emptyStep()
  const p = state.products.get(symbol)
  if (p === undefined) return step
  if (p.disruptedAt !== undefined) {
    finalizeEndedBy(state, symbol, p, Math.min(now - state.graceMs, seenUntil(state, p, p.disruptedAt)), step)
    return step
  }
  if (p.current !== undefined && p.current.openTime + fiveMinutes + state.graceMs <= now) closeCurrent(state, symbol, p, step)
  const horizon = p.current === undefined ? now - state.graceMs : Math.min(now - state.graceMs, p.current.openTime)
  finalizeEndedBy(state, symbol, p, horizon, step)
  return step
}

/** The exchange time at which `advance` next has something to close for `symbol`, if any. */
export const nextDeadline = (state: State, symbol: Market.SymbolId): number | undefined => {
  const p = state.products.get(symbol)
  if (p === undefined) return undefined
  if (p.disruptedAt !== undefined) {
    // Only what ended before the loss can still close by time; the rest waits for the stream to come back.
    const horizon = seenUntil(state, p, p.disruptedAt)
    let ended = Number.POSITIVE_INFINITY
    for (const [tf, bucket] of p.buckets) {
      const close = Timeframe.closeTime(tf, bucket.openTime)
      if (close <= horizon) ended = Math.min(ended, close)
    }
    return Number.isFinite(ended) ? ended + state.graceMs : undefined
  }
  let deadline = p.current === undefined ? Number.POSITIVE_INFINITY : p.current.openTime + fiveMinutes
  for (const [tf, bucket] of p.buckets) deadline = Math.min(deadline, Timeframe.closeTime(tf, bucket.openTime))
  return Number.isFinite(deadline) ? deadline + state.graceMs : undefined
}

/**
 * Messages may have been lost for `symbols` since exchange time `at` (a connection loss, a sequence gap): nothing
 * forming closes by time until the next candle of each product decides whether a bucket went unseen. A second
 * report of the same outage (the reconnect after the loss) keeps the earlier time.
 */
export const disrupt = (state: State, symbols: Iterable<Market.SymbolId>, at: number): void => {
  for (const symbol of symbols) {
    const p = state.products.get(symbol)
    if (p !== undefined && p.knownFrom !== undefined) {
      p.disruptedAt = p.disruptedAt === undefined ? at : Math.min(p.disruptedAt, at)
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The effectful tracker: a lock around the state, the exchange clock, and one timer per product.

/** Options of `make`. */
export interface Options {
  /** Timeframes to emit; 5m is tracked either way, since every higher one is built from it. */
  readonly timeframes: ReadonlyArray<Timeframe.Timeframe>
  /** Extra wait past a bucket's end before the timer closes it, for the last update in flight. */
  readonly grace: Duration.DurationInput
  /** Where events go, called under the tracker's lock so events of one candle never overtake each other. */
  readonly emit: (events: ReadonlyArray<MarketEvent.MarketEvent>) => Effect.Effect<void>
}

/** A running tracker. */
export interface CandleTracker {
  /**
   * Take the 5m updates of one `candles` frame stamped by the exchange at `exchangeTime` (ms), which also sets
   * the clock the timers follow. Call it for every candles frame, even one with no update for these products.
   */
  readonly ingest: (
    candles: ReadonlyArray<{ readonly symbol: Market.SymbolId; readonly candle: Candle.Candle }>,
    exchangeTime: number
  ) => Effect.Effect<void>
  /**
   * A loss, reconnect or gap may have lost messages for `symbols` since local time `since` (ms; default now).
   */
  readonly disrupt: (symbols: ReadonlyArray<Market.SymbolId>, since?: number) => Effect.Effect<void>
}

/**
 * A tracker living in the scope: its timers stop with it. Timers follow the clock of the candles channel itself
 * (local time plus the offset seen in the last candles frame's timestamp), so a skewed local clock or a
 * simulator on its own time closes nothing early, and neither does another channel running ahead: heartbeats
 * stamped past a bucket's end must not cut off the candle update still on its way.
 */
export const make = (options: Options): Effect.Effect<CandleTracker, never, Scope.Scope> =>
  Effect.gen(function* () {
    const state = initial(options.timeframes, Duration.toMillis(Duration.decode(options.grace)))
    const lock = yield* Effect.makeSemaphore(1)
    const timers = yield* FiberSet.make()
    const clock = ExchangeClock.make()
    // Completed (and replaced) when the exchange-clock offset jumps, so sleeping timers re-plan.
    let clockMoved = yield* Deferred.make<void>()

    const report = (step: Step): Effect.Effect<void> =>
      Effect.gen(function* () {
        if (step.events.length > 0) yield* options.emit(step.events)
        for (const i of step.incomplete) {
          yield* Effect.logDebug("Coinbase: candle not emitted closed, its interval was not fully seen").pipe(
            Effect.annotateLogs({ symbol: i.symbol, timeframe: i.timeframe, openTime: i.openTime })
          )
        }
        for (const l of step.late) {
          yield* Effect.logDebug("Coinbase: late 5m update dropped").pipe(
            Effect.annotateLogs({ symbol: l.symbol, openTime: l.openTime })
          )
        }
      })

    // One loop per product, started when a deadline appears and ending when none is left. Ingest only ever moves
    // a deadline later, so the loop re-reads it after each sleep instead of being restarted.
    const timerLoop = (symbol: Market.SymbolId): Effect.Effect<void> =>
      Effect.gen(function* () {
        while (true) {
          const wait = yield* lock.withPermits(1)(
            Effect.gen(function* () {
              const now = yield* clock.now
              const deadline = nextDeadline(state, symbol)
              if (deadline === undefined) {
                productState(state, symbol).timerActive = false
                return undefined
              }
              if (deadline > now) return deadline - now
              yield* report(advance(state, symbol, now))
              // Defensive: a deadline that advancing could not clear must not become a busy loop.
              const next = nextDeadline(state, symbol)
              return next !== undefined && next <= now ? 1000 : 0
            })
          )
          if (wait === undefined) return
          if (wait > 0) yield* Effect.raceFirst(Effect.sleep(Duration.millis(wait)), Deferred.await(clockMoved))
        }
      })

    const ensureTimer = (symbol: Market.SymbolId): Effect.Effect<void> => {
      const p = productState(state, symbol)
      if (p.timerActive || nextDeadline(state, symbol) === undefined) return Effect.void
      p.timerActive = true
      return Effect.asVoid(FiberSet.run(timers, timerLoop(symbol)))
    }

    const observeCandlesClock = (exchangeTime: number): Effect.Effect<void> =>
      Effect.flatMap(clock.observe(exchangeTime), (shift) => {
        if (Math.abs(shift) < offsetJumpMs) return Effect.void
        const woken = clockMoved
        return Effect.flatMap(Deferred.make<void>(), (fresh) => {
          clockMoved = fresh
          return Deferred.succeed(woken, undefined)
        })
      })

    return {
      ingest: (candles, exchangeTime) =>
        lock.withPermits(1)(
          Effect.gen(function* () {
            yield* observeCandlesClock(exchangeTime)
            // Oldest first: a snapshot may carry several buckets, newest first.
            const ordered = [...candles].sort((a, b) => a.candle.openTime - b.candle.openTime)
            for (const { symbol, candle } of ordered) {
              yield* report(ingest(state, symbol, candle))
              yield* ensureTimer(symbol)
            }
          })
        ),
      disrupt: (symbols, since) =>
        lock.withPermits(1)(
          Effect.gen(function* () {
            const exchangeNow = yield* clock.now
            const localNow = yield* Clock.currentTimeMillis
            disrupt(state, symbols, since === undefined ? exchangeNow : exchangeNow - Math.max(0, localNow - since))
          })
        )
    } satisfies CandleTracker
  })
