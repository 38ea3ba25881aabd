/**
 * Smart warmup, the executor (domain.md §6): scan the cache, write the schedule before any REST call, fetch only
 * the scheduled ranges through the adapter (whose governor enforces the exchange's limits), fill empty intervals
 * with synthetic candles, and keep the stats key and channel up to date. The decisions are in `WarmupPlan`.
 */
import { Bus, type CacheError, CandleCache, Keys } from "@livermore/cache"
import { type Exchange, type Market, Timeframe } from "@livermore/domain"
import { ExchangeAdapter, type ExchangeError } from "@livermore/exchange"
import { Cause, Clock, Effect, Either, type Option, Ref } from "effect"
import { JsonStore } from "./JsonStore.js"
import * as WarmupPlan from "./WarmupPlan.js"

/**
 * `channel:exchange:{exchangeId}:warm-up-schedule:stats`: every stats update, for live viewers. Not in
 * domain.md §4's table (§6 only says updates are published); named like the other channels of §4.
 */
export const statsChannel = (exchangeId: Exchange.ExchangeId): string =>
  `channel:${Keys.warmupStats(exchangeId)}`

/** What to warm up. */
export interface Options {
  readonly symbols: ReadonlyArray<Market.SymbolId>
  /** Default: the timeframes of the adapter's exchange row. Scanned largest first whatever the order here. */
  readonly timeframes?: ReadonlyArray<Timeframe.Timeframe> | undefined
  /** Contiguous closed candles a pair needs. Default `WarmupPlan.defaultMinCandles` (60). */
  readonly minCandles?: number | undefined
  /** Scheduled pairs fetched at once. Default 1 (the adapter's governor paces requests anyway). */
  readonly concurrency?: number | undefined
  /** The time the scan treats as now (ms). Default: the `Clock`. */
  readonly now?: number | undefined
}

/**
 * Which scheduled entries (indices into the schedule) are taken: `next` is the first not yet claimed, `inFlight`
 * the ones being fetched, oldest first.
 */
interface Claims {
  readonly next: number
  readonly inFlight: ReadonlyArray<number>
}

/** `claims` once entry `done` has finished: it leaves `inFlight`, and the next unclaimed entry, if any, joins. */
const release = (
  claims: Claims,
  done: number,
  total: number
): { readonly claims: Claims; readonly claimed: number | undefined } => {
  const claimed = claims.next < total ? claims.next : undefined
  return {
    claimed,
    claims: {
      next: claimed === undefined ? claims.next : claimed + 1,
      inFlight: [...claims.inFlight.filter((i) => i !== done), ...(claimed === undefined ? [] : [claimed])]
    }
  }
}

/** Read the schedule of an exchange (decoded). */
export const readSchedule = (
  exchangeId: Exchange.ExchangeId
): Effect.Effect<Option.Option<WarmupPlan.Schedule>, CacheError.CacheError, JsonStore> =>
  Effect.flatMap(JsonStore, (store) => store.get(Keys.warmupSchedule(exchangeId), WarmupPlan.Schedule))

/** Read the stats of an exchange (decoded). */
export const readStats = (
  exchangeId: Exchange.ExchangeId
): Effect.Effect<Option.Option<WarmupPlan.Stats>, CacheError.CacheError, JsonStore> =>
  Effect.flatMap(JsonStore, (store) => store.get(Keys.warmupStats(exchangeId), WarmupPlan.Stats))

/**
 * Run warmup for the adapter's exchange and return the final stats. A pair whose fetch fails is recorded in
 * `failures` and warmup goes on; a cache failure aborts the run, leaving stats `failed` (best effort) and failing.
 *
 * Stats are written and published once when scanning starts, once when fetching starts (the schedule is then
 * written), once per scheduled pair as it completes or fails, and once at the end: `scheduledPairs + 3` updates.
 * A run that reaches its end is `completed` even if some (or all) pairs failed: domain.md §6 names the statuses
 * but not this case, and `failedPairs`/`failures` already say which pairs are missing, while `failed` stays the
 * sign that the run itself aborted (nothing after it can be trusted).
 */
export const run = Effect.fn("Warmup.run")(function* (options: Options) {
  const cache = yield* CandleCache.CandleCache
  const bus = yield* Bus.Bus
  const store = yield* JsonStore
  const adapter = yield* ExchangeAdapter.ExchangeAdapter
  const exchangeId = adapter.exchange.id
  const minCandles = options.minCandles ?? WarmupPlan.defaultMinCandles
  if (!Number.isInteger(minCandles) || minCandles < 1) {
    return yield* Effect.dieMessage(`Warmup: minCandles must be a positive integer, got ${minCandles}`)
  }
  const startedAt = yield* Clock.currentTimeMillis
  const now = options.now ?? startedAt
  const pairs = WarmupPlan.pairs(options.symbols, options.timeframes ?? adapter.exchange.timeframes)

  const state = yield* Ref.make(
    new WarmupPlan.Stats({
      status: "scanning",
      totalPairs: pairs.length,
      skippedPairs: 0,
      scheduledPairs: 0,
      completedPairs: 0,
      failedPairs: 0,
      percentComplete: 0,
      etaSeconds: null,
      currentSymbol: null,
      currentTimeframe: null,
      startedAt,
      updatedAt: startedAt,
      failures: []
    })
  )
  // One writer at a time, so the key and the channel see updates in order even with concurrent fetches.
  const lock = yield* Effect.makeSemaphore(1)
  /** Compute, store and publish the next stats. The caller holds `lock`. */
  const write = (f: (stats: WarmupPlan.Stats) => Omit<WarmupPlan.Stats, "updatedAt" | "percentComplete" | "etaSeconds">) =>
    Effect.gen(function* () {
      const at = yield* Clock.currentTimeMillis
      const next = yield* Ref.updateAndGet(state, (current) => {
        const changed = f(current)
        const done = changed.completedPairs + changed.failedPairs
        return new WarmupPlan.Stats({
          ...changed,
          percentComplete: WarmupPlan.percentComplete(done, changed.scheduledPairs),
          etaSeconds: WarmupPlan.etaSeconds(at - changed.startedAt, done, changed.scheduledPairs),
          updatedAt: at
        })
      })
      yield* store.set(Keys.warmupStats(exchangeId), WarmupPlan.Stats, next)
      yield* bus.publish(statsChannel(exchangeId), WarmupPlan.Stats, next)
    })
  const update = (f: Parameters<typeof write>[0]) => lock.withPermits(1)(write(f))

  const body = Effect.gen(function* () {
    yield* update((stats) => stats)

    const holdings = yield* Effect.forEach(pairs, ({ symbol, timeframe }) =>
      Effect.gen(function* () {
        const series = { exchangeId, symbol, timeframe }
        const { from, to } = WarmupPlan.window(timeframe, now, minCandles)
        const held = yield* cache.count(series)
        const inWindow = held === 0 ? [] : yield* cache.range(series, from, to)
        const closed = inWindow.filter((candle) => candle.closed).map((candle) => candle.openTime)
        return { symbol, timeframe, held, closed } satisfies WarmupPlan.Holding
      })
    )
    const planned = WarmupPlan.plan(holdings, now, minCandles)
    const entries = planned.entries
    const schedule = new WarmupPlan.Schedule({
      exchangeId,
      scannedAt: now,
      minCandles,
      totalPairs: planned.totalPairs,
      entries
    })
    yield* store.set(Keys.warmupSchedule(exchangeId), WarmupPlan.Schedule, schedule)

    // `workers` fetchers each take the next unclaimed entry when they finish one. Claiming happens in the same
    // locked step as recording the finished pair, so each pair costs exactly one stats write, and
    // `currentSymbol`/`currentTimeframe` always name the oldest entry in flight (with concurrency 1, the one
    // being fetched).
    const workers = Math.min(Math.max(1, options.concurrency ?? 1), entries.length)
    const firstClaims = Array.from({ length: workers }, (_, i) => i)
    const queue = yield* Ref.make<Claims>({ next: workers, inFlight: firstClaims })
    const current = (inFlight: ReadonlyArray<number>) => {
      const entry = inFlight[0] === undefined ? undefined : entries[inFlight[0]]
      return { currentSymbol: entry?.symbol ?? null, currentTimeframe: entry?.timeframe ?? null }
    }
    yield* update((stats) => ({
      ...stats,
      status: "fetching",
      skippedPairs: planned.skippedPairs,
      scheduledPairs: entries.length,
      ...current(firstClaims)
    }))

    /** Record the outcome of entry `index` and claim the next entry for the same worker (none when all are claimed). */
    const finish = (index: number, entry: WarmupPlan.Entry, outcome: Either.Either<number, ExchangeError.ExchangeError>) =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          const { claims, claimed } = release(yield* Ref.get(queue), index, entries.length)
          yield* Ref.set(queue, claims)
          yield* write((stats) => ({
            ...(Either.isRight(outcome)
              ? { ...stats, completedPairs: stats.completedPairs + 1 }
              : {
                  ...stats,
                  failedPairs: stats.failedPairs + 1,
                  failures: [
                    ...stats.failures,
                    new WarmupPlan.Failure({
                      symbol: entry.symbol,
                      timeframe: entry.timeframe,
                      from: entry.from,
                      to: entry.to,
                      error: outcome.left.message
                    })
                  ]
                }),
            ...current(claims.inFlight)
          }))
          return claimed
        })
      )

    const worker = (first: number) =>
      Effect.gen(function* () {
        let index: number | undefined = first
        while (index !== undefined) {
          const entry: WarmupPlan.Entry = entries[index]!
          index = yield* finish(index, entry, yield* fetchEntry(entry))
        }
      })
    yield* Effect.forEach(firstClaims, worker, { concurrency: Math.max(1, workers), discard: true })

    // The run reached its end: `completed` even when some pairs failed (they are in `failedPairs` and
    // `failures`); `failed` is kept for a run that aborted (domain.md §6 lists both without saying more).
    yield* update((stats) => ({ ...stats, status: "completed", currentSymbol: null, currentTimeframe: null }))
    return yield* Ref.get(state)
  })

  /**
   * Fetch one entry, fill what the exchange left empty, and store it. The outer effect fails only on a cache
   * failure (which aborts the run); an exchange failure is the `Left` (the pair is recorded as failed).
   */
  const fetchEntry = (entry: WarmupPlan.Entry) =>
    Effect.gen(function* () {
      const series = { exchangeId, symbol: entry.symbol, timeframe: entry.timeframe }
      const duration = Timeframe.durationMs[entry.timeframe]
      const cachedBefore = yield* cache.range(series, entry.from - duration, entry.from - duration)
      const known = cachedBefore.find((candle) => candle.closed)?.close
      const download = Effect.gen(function* () {
        const real = yield* adapter.history(entry.symbol, entry.timeframe, { from: entry.from, to: entry.to })
        if (known !== undefined || real[0]?.openTime === entry.from) return { real, previous: known }
        // The range starts with empty intervals and the cache has no close before it: look back once for the
        // last real close, so those intervals can be filled; before a symbol's first candle nothing is invented.
        const before = yield* adapter.history(entry.symbol, entry.timeframe, {
          from: entry.from - minCandles * duration,
          to: entry.from - duration
        })
        return { real, previous: before[before.length - 1]?.close }
      })
      const downloaded = yield* Effect.either(download)
      if (Either.isLeft(downloaded)) return Either.left(downloaded.left)
      const { real, previous } = downloaded.right
      yield* cache.upsertMany(series, WarmupPlan.fillEmpty(entry.timeframe, entry, real, previous))
      return Either.right(real.length)
    })

  return yield* body.pipe(
    Effect.tapErrorCause((cause) =>
      Effect.ignore(
        update((stats) => ({
          ...stats,
          status: "failed",
          error: Cause.pretty(cause)
        }))
      )
    )
  )
})
