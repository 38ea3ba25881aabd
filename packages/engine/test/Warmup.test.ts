/**
 * Warmup against the simulator over real sockets: the Binance adapter pointed at `ExchangeSim`, the cache in
 * memory (and once on Redis at REDIS_URL, default redis://127.0.0.1:6379).
 */
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Bus, CacheConfig, CacheServices, CandleCache, Keys, RedisClient } from "@livermore/cache"
import { Exchange, Market, Timeframe } from "@livermore/domain"
import { ExchangeAdapter } from "@livermore/exchange"
import { BinanceAdapter, BinanceConfig } from "@livermore/exchange-binance"
import { ExchangeSim } from "@livermore/exchange-sim"
import { Context, Effect, FiberRef, Layer, LogLevel, Option, Ref, Schema, Stream } from "effect"
import * as JsonStore from "../src/JsonStore.js"
import * as Warmup from "../src/Warmup.js"
import * as WarmupPlan from "../src/WarmupPlan.js"
import { freshPrefix, redisLayer } from "./redisNamespace.js"

/** 2024-01-11 00:02 UTC, paused: every timeframe has a well-defined last closed boundary. */
const START = Date.UTC(2024, 0, 11, 0, 2)
const ALL: ReadonlyArray<Timeframe.Timeframe> = Timeframe.all
const KLINES = "GET /api/v3/klines"

const simRow = (sim: ExchangeSim.SimHandle) =>
  Exchange.Exchange.make({
    id: Schema.decodeSync(Exchange.ExchangeId)(7),
    name: Schema.decodeSync(Exchange.ExchangeName)("sim_binance"),
    displayName: "Binance (simulator)",
    adapter: "binance",
    wsUrl: sim.wsUrl,
    restUrl: sim.url,
    timeframes: ["5m", "15m", "1h", "4h", "1d"],
    apiLimits: Exchange.ApiLimits.make({
      restWeightPerMinute: 6000,
      candlesPerRequest: 1000,
      wsMessagesPerSecond: 5,
      wsMaxStreamsPerConnection: 1024,
      wsMaxConnectionHours: Option.some(24)
    }),
    fees: Exchange.Fees.make({ maker: 0.001, taker: 0.001 }),
    geoRestrictions: [],
    isActive: true
  })

type Adapter = Context.Tag.Service<ExchangeAdapter.ExchangeAdapter>

/** What the adapter wrapper saw at the first `history` call. */
interface FirstCall {
  readonly schedule: Option.Option<WarmupPlan.Schedule>
  readonly klinesBefore: number
}

/**
 * A paused simulator and a Binance adapter on it, wrapped so the first `history` call records whether the
 * schedule key was already written and how many klines requests the sim had served by then.
 */
const setUp = (simOptions: Parameters<typeof ExchangeSim.make>[0] = {}) =>
  Effect.gen(function* () {
    // The sim clock jumps in one test, so the adapter re-reads server time before every request.
    yield* Effect.locallyScoped(FiberRef.currentMinimumLogLevel, LogLevel.Error)
    const sim = yield* ExchangeSim.make({ startTime: START, speed: 0, ...simOptions })
    const context = yield* Layer.build(
      BinanceAdapter.layer(simRow(sim)).pipe(Layer.provide(FetchHttpClient.layer), Layer.provide(BinanceConfig.layer({ timeSyncInterval: "1 millis" })))
    )
    const inner: Adapter = Context.get(context, ExchangeAdapter.ExchangeAdapter)
    const firstCall = yield* Ref.make(Option.none<FirstCall>())
    const store = yield* JsonStore.JsonStore
    const adapter: Adapter = {
      ...inner,
      history: (symbol, timeframe, range) =>
        Effect.gen(function* () {
          if (Option.isNone(yield* Ref.get(firstCall))) {
            const schedule = yield* Effect.orDie(store.get(Keys.warmupSchedule(inner.exchange.id), WarmupPlan.Schedule))
            const klinesBefore = (yield* sim.stats).rest[KLINES] ?? 0
            yield* Ref.set(firstCall, Option.some({ schedule, klinesBefore }))
          }
          return yield* inner.history(symbol, timeframe, range)
        })
    }
    const symbols = sim.market.symbols.map((s) => Schema.decodeSync(Market.SymbolId)(s.binance))
    return { sim, adapter, firstCall, symbols }
  })

const klines = (sim: ExchangeSim.SimHandle) => Effect.map(sim.stats, (stats) => stats.rest[KLINES] ?? 0)

/** Whether every pair holds ≥ 60 contiguous closed candles ending at the last closed boundary at `now`. */
const assertSufficient = (exchangeId: Exchange.ExchangeId, symbols: ReadonlyArray<Market.SymbolId>, now: number) =>
  Effect.gen(function* () {
    const cache = yield* CandleCache.CandleCache
    for (const symbol of symbols) {
      for (const timeframe of ALL) {
        const endingAt = Timeframe.lastClosedOpenTime(timeframe, now)
        const run = yield* cache.contiguousClosed({ exchangeId, symbol, timeframe }, { endingAt })
        assert.isAtLeast(run, 60, `${symbol}/${timeframe} holds ${run} contiguous closed candles`)
      }
    }
  })

const Memory = Layer.mergeAll(
  CacheServices.layerMemory.pipe(Layer.provide(CacheConfig.layer())),
  JsonStore.layerMemory
)

const withAdapter = <A, E, R>(adapter: Adapter, effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, ExchangeAdapter.ExchangeAdapter, adapter)

/** Cold warmup of `symbols`, checking the schedule-before-REST order and the final stats. */
const coldWarmup = (
  setup: Effect.Effect.Success<ReturnType<typeof setUp>>,
  symbols: ReadonlyArray<Market.SymbolId>
) =>
  Effect.gen(function* () {
    const { sim, adapter, firstCall } = setup
    const exchangeId = adapter.exchange.id
    const stats = yield* withAdapter(adapter, Warmup.run({ symbols, now: START }))
    assert.strictEqual(stats.status, "completed")
    assert.strictEqual(stats.percentComplete, 100)
    assert.strictEqual(stats.etaSeconds, 0)
    assert.strictEqual(stats.totalPairs, symbols.length * 5)
    assert.strictEqual(stats.scheduledPairs, symbols.length * 5)
    assert.strictEqual(stats.completedPairs, symbols.length * 5)
    assert.strictEqual(stats.failedPairs, 0)
    assert.deepStrictEqual(Option.getOrThrow(yield* Warmup.readStats(exchangeId)), stats)

    const first = Option.getOrThrow(yield* Ref.get(firstCall))
    assert.strictEqual(first.klinesBefore, 0, "no klines request before the schedule was written")
    const schedule = Option.getOrThrow(first.schedule)
    assert.strictEqual(schedule.entries.length, symbols.length * 5)
    assert.isTrue(schedule.entries.every((e) => e.reason === "empty"))
    assert.deepStrictEqual(
      schedule.entries.slice(0, 5).map((e) => e.timeframe),
      ["1d", "4h", "1h", "15m", "5m"]
    )
    assert.isAtLeast(yield* klines(sim), symbols.length * 5)
    yield* assertSufficient(exchangeId, symbols, START)
    return schedule
  })

/** Collect every stats update published on the channel, from now on. */
const collectUpdates = (exchangeId: Exchange.ExchangeId) =>
  Effect.gen(function* () {
    const updates = yield* Ref.make<ReadonlyArray<WarmupPlan.Stats>>([])
    const stream = yield* (yield* Bus.Bus).subscribe(Warmup.statsChannel(exchangeId), WarmupPlan.Stats)
    yield* Effect.forkScoped(Stream.runForEach(stream, (stats) => Ref.update(updates, (all) => [...all, stats])))
    return updates
  })

/**
 * The exact updates of one run with `concurrency` 1 (Warmup.run's contract): scanning, fetching (naming the first
 * entry), one per scheduled pair as it finishes (naming the entry fetched next), and completed.
 */
const assertUpdates = (seen: ReadonlyArray<WarmupPlan.Stats>, entries: ReadonlyArray<WarmupPlan.Entry>) => {
  const current = (s: WarmupPlan.Stats) => [s.currentSymbol, s.currentTimeframe]
  const named = (entry: WarmupPlan.Entry | undefined) => [entry?.symbol ?? null, entry?.timeframe ?? null]
  assert.strictEqual(seen.length, entries.length + 3, "one update each for scanning, fetching, every pair and the end")
  assert.deepStrictEqual([seen[0]?.status, seen[0]?.scheduledPairs, current(seen[0]!)], ["scanning", 0, [null, null]])
  assert.deepStrictEqual([seen[1]?.status, seen[1]?.scheduledPairs, current(seen[1]!)], ["fetching", entries.length, named(entries[0])])
  entries.forEach((_, k) => {
    const update = seen[2 + k]!
    assert.strictEqual(update.status, "fetching")
    assert.strictEqual(update.completedPairs + update.failedPairs, k + 1, `update after pair ${k}`)
    assert.deepStrictEqual(current(update), named(entries[k + 1]), `update after pair ${k} names the next entry`)
  })
  const last = seen[seen.length - 1]!
  assert.deepStrictEqual([last.status, last.percentComplete, last.etaSeconds, current(last)], ["completed", 100, 0, [null, null]])
}

/** Every candle the cache holds for `symbols` × all timeframes of `exchangeId`, per pair. */
const dump = (exchangeId: Exchange.ExchangeId, symbols: ReadonlyArray<Market.SymbolId>) =>
  Effect.flatMap(CandleCache.CandleCache, (cache) =>
    Effect.forEach(symbols, (symbol) =>
      Effect.forEach(ALL, (timeframe) => cache.recent({ exchangeId, symbol, timeframe }, 500))
    )
  )

/** Stats without the times a run was stamped with. */
const timeless = ({ startedAt: _s, updatedAt: _u, ...rest }: WarmupPlan.Stats) => rest

describe("Warmup against the simulator", () => {
  it.scopedLive(
    "cold warmup fills every pair, schedule first; a warm restart makes zero REST candle calls",
    () =>
      Effect.gen(function* () {
        const setup = yield* setUp({ symbols: 5 })
        const symbols = setup.symbols.slice(0, 3)
        const exchangeId = setup.adapter.exchange.id
        const updates = yield* collectUpdates(exchangeId)
        const schedule = yield* coldWarmup(setup, symbols)
        yield* Effect.sleep("50 millis")
        const cold = yield* Ref.get(updates)
        assertUpdates(cold, schedule.entries)
        assert.deepStrictEqual(cold[cold.length - 1], Option.getOrThrow(yield* Warmup.readStats(exchangeId)))

        const before = yield* klines(setup.sim)
        const warm = yield* withAdapter(setup.adapter, Warmup.run({ symbols, now: START + 60_000 }))
        yield* Effect.sleep("50 millis")
        assertUpdates((yield* Ref.get(updates)).slice(cold.length), [])
        assert.strictEqual(yield* klines(setup.sim), before, "zero REST candle calls on a warm restart")
        assert.strictEqual(warm.status, "completed")
        assert.strictEqual(warm.skippedPairs, 15)
        assert.strictEqual(warm.scheduledPairs, 0)
        assert.strictEqual(warm.percentComplete, 100)
        assert.deepStrictEqual(Option.getOrThrow(yield* Warmup.readSchedule(exchangeId)).entries, [])
      }).pipe(Effect.provide(Memory)),
    60_000
  )

  it.scopedLive(
    "a partially stale cache fetches only the missing range",
    () =>
      Effect.gen(function* () {
        const setup = yield* setUp({ symbols: 5 })
        const symbols = setup.symbols.slice(0, 2)
        const exchangeId = setup.adapter.exchange.id
        yield* coldWarmup(setup, symbols)
        const later = START + 60 * 60_000
        yield* setup.sim.setClock({ time: later })
        const before = yield* klines(setup.sim)
        const stats = yield* withAdapter(setup.adapter, Warmup.run({ symbols, now: later }))
        const schedule = Option.getOrThrow(yield* Warmup.readSchedule(exchangeId))
        // One hour later: 5m, 15m and 1h have new closed candles; 4h and 1d do not.
        assert.deepStrictEqual(
          schedule.entries.map((e) => [e.symbol, e.timeframe, e.reason, e.from, e.to]),
          symbols.flatMap((symbol) =>
            (["1h", "15m", "5m"] as const).map((tf) => [
              symbol,
              tf,
              "stale",
              Timeframe.lastClosedOpenTime(tf, START) + Timeframe.durationMs[tf],
              Timeframe.lastClosedOpenTime(tf, later)
            ])
          )
        )
        assert.strictEqual((yield* klines(setup.sim)) - before, symbols.length * 3, "one request per stale pair")
        assert.strictEqual(stats.skippedPairs, symbols.length * 2)
        assert.strictEqual(stats.completedPairs, symbols.length * 3)
        yield* assertSufficient(exchangeId, symbols, later)
      }).pipe(Effect.provide(Memory)),
    60_000
  )

  it.scopedLive(
    "an illiquid symbol (empty 5m buckets) ends sufficient too",
    () =>
      Effect.gen(function* () {
        const setup = yield* setUp({ symbols: 2, illiquidRatio: 0.5, emptyBucketProbability: 0.5 })
        const illiquid = setup.symbols.slice(1, 2)
        yield* coldWarmup(setup, illiquid)
        const cache = yield* CandleCache.CandleCache
        const series = { exchangeId: setup.adapter.exchange.id, symbol: illiquid[0]!, timeframe: "5m" as const }
        const held = yield* cache.recent(series, 60)
        assert.strictEqual(held.length, 60)
        // Binance reports empty intervals as zero-volume klines; anything it omitted was filled synthetically.
        assert.isTrue(held.filter((c) => c.synthetic).every((c) => c.volume === 0 && c.open === c.close))
      }).pipe(Effect.provide(Memory)),
    60_000
  )

  it.scopedLive(
    "a failing pair (unknown symbol) is recorded, the others complete, the run ends completed; the next run retries it",
    () =>
      Effect.gen(function* () {
        const setup = yield* setUp({ symbols: 3 })
        const symbols = setup.symbols.slice(0, 2)
        const exchangeId = setup.adapter.exchange.id
        const nope = Schema.decodeSync(Market.SymbolId)("NOPEUSDT")
        const broken: Adapter = {
          ...setup.adapter,
          history: (symbol, timeframe, range) =>
            setup.adapter.history(symbol === symbols[0] && timeframe === "1h" ? nope : symbol, timeframe, range)
        }
        const updates = yield* collectUpdates(exchangeId)
        const stats = yield* withAdapter(broken, Warmup.run({ symbols, now: START }))
        const schedule = Option.getOrThrow(yield* Warmup.readSchedule(exchangeId))
        yield* Effect.sleep("50 millis")
        assertUpdates(yield* Ref.get(updates), schedule.entries)

        // domain.md §6 does not say; the run reached its end, so it is `completed` with the failure listed.
        assert.strictEqual(stats.status, "completed")
        assert.strictEqual(stats.failedPairs, 1)
        assert.strictEqual(stats.completedPairs, 9)
        assert.strictEqual(stats.percentComplete, 100)
        assert.strictEqual(stats.etaSeconds, 0)
        assert.isUndefined(stats.error)
        const entry = schedule.entries.find((e) => e.symbol === symbols[0] && e.timeframe === "1h")!
        assert.deepStrictEqual(
          stats.failures.map((f) => [f.symbol, f.timeframe, f.from, f.to]),
          [[symbols[0], "1h", entry.from, entry.to]]
        )
        assert.match(stats.failures[0]!.error, /NOPEUSDT/)
        assert.deepStrictEqual(Option.getOrThrow(yield* Warmup.readStats(exchangeId)), stats)

        const cache = yield* CandleCache.CandleCache
        assert.strictEqual(yield* cache.count({ exchangeId, symbol: symbols[0]!, timeframe: "1h" }), 0)
        for (const symbol of symbols) {
          for (const timeframe of ALL) {
            if (symbol === symbols[0] && timeframe === "1h") continue
            const endingAt = Timeframe.lastClosedOpenTime(timeframe, START)
            assert.isAtLeast(yield* cache.contiguousClosed({ exchangeId, symbol, timeframe }, { endingAt }), 60)
          }
        }

        // The next run schedules only the failed pair, and with a working adapter it completes.
        const before = yield* klines(setup.sim)
        const retry = yield* withAdapter(setup.adapter, Warmup.run({ symbols, now: START }))
        assert.deepStrictEqual(
          Option.getOrThrow(yield* Warmup.readSchedule(exchangeId)).entries.map((e) => [e.symbol, e.timeframe, e.reason]),
          [[symbols[0], "1h", "empty"]]
        )
        assert.strictEqual((yield* klines(setup.sim)) - before, 1)
        assert.deepStrictEqual([retry.status, retry.completedPairs, retry.failedPairs, retry.failures], ["completed", 1, 0, []])
        yield* assertSufficient(exchangeId, symbols, START)
      }).pipe(Effect.provide(Memory)),
    60_000
  )

  it.scopedLive(
    "every fetch failing (injected 500s): each pair is in failures, the run still ends completed",
    () =>
      Effect.gen(function* () {
        const setup = yield* setUp({ symbols: 2, faults: { restErrorRate: 1 } })
        const symbols = setup.symbols.slice(0, 2)
        const exchangeId = setup.adapter.exchange.id
        const updates = yield* collectUpdates(exchangeId)
        const stats = yield* withAdapter(setup.adapter, Warmup.run({ symbols, now: START }))
        const schedule = Option.getOrThrow(yield* Warmup.readSchedule(exchangeId))
        yield* Effect.sleep("50 millis")
        assertUpdates(yield* Ref.get(updates), schedule.entries)

        assert.strictEqual(schedule.entries.length, 10)
        assert.deepStrictEqual(
          [stats.status, stats.scheduledPairs, stats.completedPairs, stats.failedPairs, stats.percentComplete],
          ["completed", 10, 0, 10, 100]
        )
        assert.deepStrictEqual(
          stats.failures.map((f) => [f.symbol, f.timeframe, f.from, f.to]),
          schedule.entries.map((e) => [e.symbol, e.timeframe, e.from, e.to])
        )
        assert.isTrue(stats.failures.every((f) => /500/.test(f.error)), stats.failures[0]?.error)
        assert.isAtLeast((yield* setup.sim.stats).restErrors, 10)
        assert.deepStrictEqual((yield* dump(exchangeId, symbols)).flat(2), [])

        yield* setup.sim.setFaults({ restErrorRate: 0 })
        const retry = yield* withAdapter(setup.adapter, Warmup.run({ symbols, now: START }))
        assert.deepStrictEqual([retry.status, retry.completedPairs, retry.failedPairs], ["completed", 10, 0])
        yield* assertSufficient(exchangeId, symbols, START)
      }).pipe(Effect.provide(Memory)),
    60_000
  )

  it.scopedLive(
    "concurrency 4 gives the same cache, stats and REST calls as concurrency 1",
    () =>
      Effect.gen(function* () {
        // Half the symbols illiquid (zero-volume klines in the ranges), as a cold start meets them.
        // Each run gets a cache of its own; the first-call probe of `setUp` reads a store of its own too.
        const setup = yield* Effect.provide(
          setUp({ symbols: 4, illiquidRatio: 0.5, emptyBucketProbability: 0.5 }),
          JsonStore.layerMemory
        )
        const symbols = setup.symbols
        const exchangeId = setup.adapter.exchange.id
        const inFlight = yield* Ref.make({ now: 0, max: 0 })
        const counted: Adapter = {
          ...setup.adapter,
          history: (symbol, timeframe, range) =>
            Effect.acquireUseRelease(
              Ref.update(inFlight, ({ now, max }) => ({ now: now + 1, max: Math.max(max, now + 1) })),
              () => setup.adapter.history(symbol, timeframe, range),
              () => Ref.update(inFlight, (n) => ({ ...n, now: n.now - 1 }))
            )
        }
        const warm = (concurrency: number) =>
          Effect.gen(function* () {
            const updates = yield* collectUpdates(exchangeId)
            const before = yield* klines(setup.sim)
            const stats = yield* withAdapter(counted, Warmup.run({ symbols, now: START, concurrency }))
            const requests = (yield* klines(setup.sim)) - before
            yield* Effect.sleep("50 millis")
            const seen = yield* Ref.get(updates)
            return { stats, requests, seen, cache: yield* dump(exchangeId, symbols) }
          }).pipe(Effect.scoped, Effect.provide(Memory))

        const one = yield* warm(1)
        const maxSequential = (yield* Ref.get(inFlight)).max
        const four = yield* warm(4)
        assert.strictEqual(maxSequential, 1)
        assert.isAbove((yield* Ref.get(inFlight)).max, 1, "fetches overlapped")

        assert.deepStrictEqual(timeless(four.stats), timeless(one.stats))
        assert.deepStrictEqual([four.stats.status, four.stats.completedPairs, four.stats.failedPairs], ["completed", 20, 0])
        assert.strictEqual(four.requests, one.requests)
        assert.strictEqual(one.requests, 20, "one klines request per pair")
        assert.deepStrictEqual(four.cache, one.cache)

        // Also one update per pair, in order of completion, with the counts rising by one.
        assert.strictEqual(four.seen.length, 20 + 3)
        assert.deepStrictEqual(
          four.seen.map((s) => s.completedPairs + s.failedPairs),
          [0, 0, ...Array.from({ length: 20 }, (_, k) => k + 1), 20]
        )
        assert.deepStrictEqual(four.seen.map((s) => s.status), ["scanning", ...Array<string>(21).fill("fetching"), "completed"])
      }),
    60_000
  )
})

const prefix = freshPrefix("warmup")

const OnRedis = Layer.mergeAll(CacheServices.layerRedis, JsonStore.layerRedis).pipe(
  Layer.provideMerge(CacheConfig.layer()),
  Layer.provideMerge(redisLayer("warmup", prefix))
)

describe("Warmup on Redis", () => {
  it.scopedLive(
    "cold then warm: the schedule and stats keys are JSON strings under the namespace",
    () =>
      Effect.gen(function* () {
        const setup = yield* setUp({ symbols: 3 })
        const symbols = setup.symbols.slice(0, 2)
        const exchangeId = setup.adapter.exchange.id
        yield* coldWarmup(setup, symbols)
        const redis = yield* RedisClient.RedisClient
        const raw = yield* redis.use("test.raw", (r) => r.get(prefix + Keys.warmupStats(exchangeId)))
        assert.strictEqual(JSON.parse(raw ?? "null").status, "completed")
        assert.strictEqual(yield* redis.use("test.raw", (r) => r.type(prefix + Keys.warmupSchedule(exchangeId))), "string")
        const before = yield* klines(setup.sim)
        yield* withAdapter(setup.adapter, Warmup.run({ symbols, now: START }))
        assert.strictEqual(yield* klines(setup.sim), before)
      }).pipe(Effect.provide(OnRedis)),
    60_000
  )
})
