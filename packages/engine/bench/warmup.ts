/**
 * Warmup benchmark (domain.md §6), against the simulator over real sockets with the cache on real Redis
 * (REDIS_URL, default redis://127.0.0.1:6379, under a fresh key prefix removed at the end):
 *
 * - **Cold warmup**, 100 symbols × 5 timeframes, through the Coinbase adapter against a simulator REST limit of
 *   `COINBASE_LIMIT` requests/s, at concurrency 1 (the default) and 4: wall time, REST candle requests, the ideal
 *   time (requests ÷ limit) and wall ÷ ideal (goal ≤ 1.1), 418s (goal 0) and 429s. Coinbase rather than Binance:
 *   its limit is per second, so a 20–40 s run measures steady pacing; Binance's is a weight budget per minute,
 *   which the governor books over a rolling 60 s window, so any run shorter than a few minutes is one burst plus
 *   waits for the window, and its wall ÷ ideal says nothing about efficiency.
 * - **Warm restart**, 500 symbols × 5 timeframes whose cache holds a complete, fresh history, measured twice:
 *   - through the exchange runner, as a node serves an exchange (`ExchangeRunner` + `Lifecycle` over the cache
 *     services on Redis, the Coinbase adapter on the simulator, the universe = the 500 symbols): seconds from
 *     `start` to `awaitActive` returning (goal ≤ 3 s) and the REST candle requests the simulator counted in
 *     between (goal 0); then the runner is stopped (live stream down, lock released) and that is timed too;
 *   - the warmup run alone (the scan): its seconds and REST candle calls (goal 0).
 *
 * Performance is reported, not asserted: the process fails only on an error. Prints a table and writes
 * bench-results/engine-warmup.json.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as path from "node:path"
import { Worker } from "node:worker_threads"
import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { hostname } from "node:os"
import { CacheConfig, CacheServices, CandleCache, EventLog, ExchangeLock, Keys, RedisClient } from "@livermore/cache"
import { Candle, Exchange, Market, Timeframe } from "@livermore/domain"
import { ExchangeAdapter } from "@livermore/exchange"
import { CoinbaseAdapter } from "@livermore/exchange-coinbase"
import type { Options as SimOptions } from "@livermore/exchange-sim"
import { Clock, Config, Data, Deferred, Effect, Layer, Logger, LogLevel, Option, Schema, type Scope } from "effect"
import * as AlertOutbox from "../src/AlertOutbox.js"
import * as ExchangeRunner from "../src/ExchangeRunner.js"
import * as JsonStore from "../src/JsonStore.js"
import * as Lifecycle from "../src/Lifecycle.js"
import * as Warmup from "../src/Warmup.js"
import type { Ready } from "./sim.js"

// ---------------------------------------------------------------------------------------------------------------
// Settings

/**
 * The simulator's Coinbase REST limit, requests per sliding second. With ~510 requests for a cold 100 × 5 warmup
 * this makes the run ~28 s (the venue's own 10/s would take ~57 s).
 */
const COINBASE_LIMIT = 20
/** Symbols of the cold warmup; the simulator lists `WARM_SYMBOLS`, of which these are every fifth. */
const COLD_SYMBOLS = 100
/** Symbols of the warm restart. */
const WARM_SYMBOLS = 500
const TIMEFRAMES = ["5m", "15m", "1h", "4h", "1d"] as const satisfies ReadonlyArray<Timeframe.Timeframe>
/** 2024-01-11 00:02 UTC: the simulator is paused there, so every run sees the same market and boundaries. */
const START = Date.UTC(2024, 0, 11, 0, 2)
/** Candles written per series for the warm restart: exactly the complete history warmup asks for. */
const FRESH_CANDLES = 60
/**
 * Scheduled pairs fetched at once in the cold warmups: `Warmup.run`'s default (1), where each pair's own latency
 * (request, simulator, cache writes) adds to the pacing, and 4 (the adapter's REST concurrency), where the
 * governor's pacing alone sets the pace.
 */
const CONCURRENCIES = [1, 4] as const
/** The simulator's stats key of Coinbase candle requests. */
const CANDLES = "GET /api/v3/brokerage/market/products/{product_id}/candles"

// ---------------------------------------------------------------------------------------------------------------
// The simulator, in a worker thread

class BenchError extends Data.TaggedError("BenchError")<{ readonly message: string }> {}

/** What the bench reads of `GET /__sim/stats` (the rest of the snapshot is ignored). */
const SimStats = Schema.Struct({
  rest: Schema.Record({ key: Schema.String, value: Schema.Number }),
  /** 429 answers (both venues; only Coinbase is used here). */
  rateLimited: Schema.Number,
  /** Binance 418 answers (the Coinbase protocol has no ban, so this can only stay 0 here). */
  banned: Schema.Number
})
type SimStats = typeof SimStats.Type

interface Sim {
  readonly url: string
  readonly wsUrl: string
  readonly products: ReadonlyArray<Market.SymbolId>
  readonly stats: Effect.Effect<SimStats, unknown>
  /** Zero the counters and forget rate-limit usage (`POST /__sim/reset`). */
  readonly reset: Effect.Effect<void, unknown>
}

/**
 * Start the simulator in a worker (`sim.ts`), terminated with the scope. A worker does not inherit tsx's loader,
 * so it registers it before importing the TypeScript entry.
 */
const startSim = (options: SimOptions.SimOptionsInput): Effect.Effect<Sim, BenchError, Scope.Scope | HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const entry = new URL("./sim.ts", import.meta.url).href
    const boot = `import("tsx/esm/api").then(({ register }) => { register(); return import(${JSON.stringify(entry)}) })`
    const ready = yield* Deferred.make<Ready, BenchError>()
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        const worker = new Worker(boot, { eval: true, workerData: options })
        worker.once("message", (message: Ready) => Deferred.unsafeDone(ready, Effect.succeed(message)))
        worker.once("error", (cause) => Deferred.unsafeDone(ready, Effect.fail(new BenchError({ message: `simulator worker: ${cause.message}` }))))
        return worker
      }),
      (worker) => Effect.promise(() => worker.terminate())
    )
    const started = yield* Deferred.await(ready).pipe(
      Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new BenchError({ message: "the simulator worker did not start" }) })
    )
    return {
      url: started.url,
      wsUrl: started.wsUrl,
      products: started.products.map((p) => Schema.decodeSync(Market.SymbolId)(p)),
      stats: client.get(`${started.url}/__sim/stats`).pipe(Effect.flatMap(HttpClientResponse.schemaBodyJson(SimStats))),
      reset: client.execute(HttpClientRequest.post(`${started.url}/__sim/reset`)).pipe(Effect.asVoid)
    } satisfies Sim
  })

/**
 * A Coinbase-protocol row on the simulator. Its REST budget is the simulator's limit, as a row describing the
 * venue truthfully would be (`COINBASE_LIMIT` × 60 per minute): then wall ÷ ideal measures what the adapter's
 * pacing and governor achieve against the venue's real limit. A lower budget would measure the configuration
 * instead, a higher one the 429 back-off. The adapter deliberately keeps 10% headroom below its budget (one
 * request per `60 s ÷ budget × 1.1`, at most ⌊0.9 × budget ÷ 60⌋ in any rolling second), so its own target pace
 * is also printed, and wall ÷ ideal at that pace isolates the governor's overhead from the headroom.
 */
const coinbaseRow = (sim: Sim, id: number): Exchange.Exchange =>
  Exchange.Exchange.make({
    id: Schema.decodeSync(Exchange.ExchangeId)(id),
    name: Schema.decodeSync(Exchange.ExchangeName)(`bench_coinbase_${id}`),
    displayName: "Coinbase (simulator, bench)",
    adapter: "coinbase",
    wsUrl: sim.wsUrl,
    restUrl: sim.url,
    timeframes: TIMEFRAMES,
    apiLimits: Exchange.ApiLimits.make({
      restWeightPerMinute: COINBASE_LIMIT * 60,
      candlesPerRequest: 350,
      wsMessagesPerSecond: 8,
      wsMaxStreamsPerConnection: 100,
      wsMaxConnectionHours: Option.none()
    }),
    fees: Exchange.Fees.make({ maker: 0.006, taker: 0.012 }),
    geoRestrictions: [],
    isActive: true
  })

/** The pace the adapter aims at for `budget` requests per minute: its spacing and its per-second cap, the lower. */
const adapterPace = (budgetPerMinute: number): number =>
  Math.min(budgetPerMinute / 60 / 1.1, Math.max(1, Math.floor((budgetPerMinute / 60) * 0.9)))

/** Run `effect` with the Coinbase adapter of `row` (its own governor, built and released around it). */
const withCoinbase = <A, E, R>(row: Exchange.Exchange, effect: Effect.Effect<A, E, R>) =>
  Effect.provide(effect, CoinbaseAdapter.layer(row).pipe(Layer.provide(NodeHttpClient.layerUndici)))

const candleRequests = (stats: SimStats): number => stats.rest[CANDLES] ?? 0

// ---------------------------------------------------------------------------------------------------------------
// Cold warmup

/** What a cold warmup measured. */
interface ColdFigures {
  readonly symbols: number
  readonly pairs: number
  readonly concurrency: number
  readonly wallSeconds: number
  /** Candle requests the simulator answered, 429s included. */
  readonly requests: number
  readonly rateLimited: number
  readonly banned: number
  /** The simulator's limit, requests per second. */
  readonly limitPerSecond: number
  /** Accepted requests ÷ the limit. */
  readonly idealSeconds: number
  readonly ratio: number
  /** The adapter's own target pace for its budget, requests per second. */
  readonly adapterPacePerSecond: number
  readonly ratioToAdapterPace: number
  readonly completedPairs: number
  readonly failedPairs: number
  readonly status: string
}

/** Warm `symbols` up from an empty cache through the adapter in context, and measure it against `sim`. */
const coldWarmup = (sim: Sim, symbols: ReadonlyArray<Market.SymbolId>, concurrency: number) =>
  Effect.gen(function* () {
    const adapter = yield* ExchangeAdapter.ExchangeAdapter
    yield* sim.reset
    const started = process.hrtime.bigint()
    const stats = yield* Warmup.run({ symbols, timeframes: TIMEFRAMES, now: START, concurrency })
    const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9
    const served = yield* sim.stats
    const requests = candleRequests(served)
    const accepted = requests - served.rateLimited
    const idealSeconds = accepted / COINBASE_LIMIT
    const pace = adapterPace(adapter.exchange.apiLimits.restWeightPerMinute)
    return {
      symbols: symbols.length,
      pairs: stats.totalPairs,
      concurrency,
      wallSeconds,
      requests,
      rateLimited: served.rateLimited,
      banned: served.banned,
      limitPerSecond: COINBASE_LIMIT,
      idealSeconds,
      ratio: wallSeconds / idealSeconds,
      adapterPacePerSecond: pace,
      ratioToAdapterPace: wallSeconds / (accepted / pace),
      completedPairs: stats.completedPairs,
      failedPairs: stats.failedPairs,
      status: stats.status
    } satisfies ColdFigures
  })

// ---------------------------------------------------------------------------------------------------------------
// Warm restart

/** A deterministic walk of `count` closed candles ending at the last closed boundary at `now`. */
const freshHistory = (timeframe: Timeframe.Timeframe, now: number, count: number, seed: number): ReadonlyArray<Candle.Candle> => {
  const last = Timeframe.lastClosedOpenTime(timeframe, now)
  const step = Timeframe.durationMs[timeframe]
  let close = 10 + (seed % 997)
  return Array.from({ length: count }, (_, i) => {
    const open = close
    close = Math.max(0.01, open * (1 + Math.sin(seed + i) * 0.004))
    return new Candle.Candle({
      openTime: last - (count - 1 - i) * step,
      open,
      high: Math.max(open, close) * 1.001,
      low: Math.min(open, close) * 0.999,
      close,
      volume: 100 + i,
      closed: true,
      synthetic: false
    })
  })
}

/** Write a complete, fresh history for every pair of `symbols` × `TIMEFRAMES` straight into the cache. */
const fillFresh = (exchangeId: Exchange.ExchangeId, symbols: ReadonlyArray<Market.SymbolId>, now: number) =>
  Effect.flatMap(CandleCache.CandleCache, (cache) =>
    Effect.forEach(
      symbols.flatMap((symbol, s) => TIMEFRAMES.map((timeframe, t) => ({ symbol, timeframe, seed: s * 7 + t }))),
      ({ symbol, timeframe, seed }) =>
        cache.upsertMany({ exchangeId, symbol, timeframe }, freshHistory(timeframe, now, FRESH_CANDLES, seed)),
      { concurrency: 32, discard: true }
    )
  )

/** What the warmup run alone measured over a warm cache. */
interface WarmFigures {
  readonly symbols: number
  readonly pairs: number
  readonly skippedPairs: number
  readonly scheduledPairs: number
  /** Candle requests the simulator saw during the run (goal 0). */
  readonly restCandleCalls: number
  /** The warmup run: the scan of every pair, the empty schedule, the stats. */
  readonly warmupSeconds: number
  readonly status: string
}

/**
 * Run warmup over a cache that already holds a complete, fresh history for `symbols` (see `fillFresh`), through
 * the adapter in context, and measure it against `sim`.
 */
const warmRestart = (sim: Sim, symbols: ReadonlyArray<Market.SymbolId>, now: number) =>
  Effect.gen(function* () {
    yield* sim.reset
    const started = process.hrtime.bigint()
    const stats = yield* Warmup.run({ symbols, timeframes: TIMEFRAMES, now })
    const warmupSeconds = Number(process.hrtime.bigint() - started) / 1e9
    return {
      symbols: symbols.length,
      pairs: stats.totalPairs,
      skippedPairs: stats.skippedPairs,
      scheduledPairs: stats.scheduledPairs,
      restCandleCalls: candleRequests(yield* sim.stats),
      warmupSeconds,
      status: stats.status
    } satisfies WarmFigures
  })

/**
 * The real clock moved back so that it reads `at` now and runs on at its own pace (sleeping is the real clock's).
 * The runner's warmup takes "now" from the `Clock`, with no option to set it, and the simulator is paused at
 * `START`: under the real date every cached series would look years stale. Run under this clock, the runner,
 * its lifecycle and its adapter see the simulator's time, as a node next to a live exchange sees the venue's.
 */
const clockAt = (at: number): Clock.Clock => {
  const real = Clock.make()
  const offset = real.unsafeCurrentTimeMillis() - at
  const offsetNanos = BigInt(offset) * 1_000_000n
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => real.unsafeCurrentTimeMillis() - offset,
    currentTimeMillis: Effect.sync(() => real.unsafeCurrentTimeMillis() - offset),
    unsafeCurrentTimeNanos: () => real.unsafeCurrentTimeNanos() - offsetNanos,
    currentTimeNanos: Effect.sync(() => real.unsafeCurrentTimeNanos() - offsetNanos),
    sleep: (duration) => real.sleep(duration)
  }
}

/** The bench's node instance, as the lock shows it. */
const INSTANCE_ID = "bench-node"

/**
 * One node serving `row` (as `ExchangeNode` in apps/node and `nodeLayer` in the engine tests compose it): the
 * runner over its lifecycle, over the cache services of the environment and the adapter provided to it.
 * Heartbeat, lock lease and status TTL are the production defaults (domain.md §5); only the lock holder writes
 * the status key, as a node does.
 */
const nodeLayer = (row: Exchange.Exchange, symbols: ReadonlyArray<Market.SymbolId>) =>
  ExchangeRunner.layer({
    holder: new ExchangeLock.LockHolder({ instanceId: INSTANCE_ID, hostname: hostname(), ipAddress: "127.0.0.1", connectedAt: null }),
    universe: Effect.succeed(symbols),
    heartbeatInterval: "10 seconds",
    lockTtl: "30 seconds"
  }).pipe(
    Layer.provideMerge(
      Lifecycle.layer({
        exchangeId: row.id,
        exchangeName: row.name,
        instanceId: INSTANCE_ID,
        hostname: hostname(),
        ipAddress: "127.0.0.1",
        ipSource: "local",
        adminEmail: null,
        adminDisplayName: null,
        mode: "exchange",
        version: "0.0.0-bench",
        symbolCount: 0,
        statusTtl: "30 seconds",
        writeStatus: "lock-holder"
      })
    )
  )

/** What a warm restart through the runner measured. */
interface RunnerFigures {
  readonly symbols: number
  readonly pairs: number
  readonly skippedPairs: number
  readonly scheduledPairs: number
  readonly warmupStatus: string
  /** `start` returning: lock taken, heartbeat and bring-up forked. */
  readonly startSeconds: number
  /** `start` called → `awaitActive` returned (goal ≤ 3 s). */
  readonly activeSeconds: number
  /** The state `awaitActive` returned. */
  readonly activeState: string
  /** Candle requests the simulator saw from `start` to `awaitActive` returning (goal 0). */
  readonly restCandleCallsToActive: number
  /** `stop` right after `active`: live stream down, lock released, `stopped` recorded. */
  readonly stopSeconds: number
  readonly stoppedState: string
  /** Candle requests the simulator saw from `start` to `stop` returning. */
  readonly restCandleCallsToStopped: number
  /** The transitions of the run, from the event log. */
  readonly transitions: ReadonlyArray<string>
}

/**
 * Serve `row` (the adapter in context) with a runner whose universe is `symbols`, over a cache that already holds
 * a complete, fresh history for them, on a clock reading `now`; time `start` → `awaitActive` and count the REST
 * candle requests of `sim` meanwhile, then stop the runner (before anything is torn down) and time that.
 */
const runnerRestart = (sim: Sim, row: Exchange.Exchange, symbols: ReadonlyArray<Market.SymbolId>, now: number) =>
  Effect.suspend(() =>
    Effect.gen(function* () {
      const runner = yield* ExchangeRunner.ExchangeRunner
      yield* sim.reset
      const t0 = process.hrtime.bigint()
      yield* runner.start("bench: warm restart")
      const t1 = process.hrtime.bigint()
      const active = yield* runner.awaitActive.pipe(
        Effect.timeoutFail({ duration: "120 seconds", onTimeout: () => new BenchError({ message: "the runner did not become active in 120 s" }) })
      )
      const t2 = process.hrtime.bigint()
      const toActive = candleRequests(yield* sim.stats)
      const { lastWarmup } = yield* runner.info
      const t3 = process.hrtime.bigint()
      const stopped = yield* runner.stop("bench: done")
      const t4 = process.hrtime.bigint()
      const toStopped = candleRequests(yield* sim.stats)
      const events = yield* Effect.flatMap(EventLog.EventLog, (log) => log.range(row.name))
      if (lastWarmup === null) return yield* new BenchError({ message: "the runner reported no warmup" })
      return {
        symbols: symbols.length,
        pairs: lastWarmup.totalPairs,
        skippedPairs: lastWarmup.skippedPairs,
        scheduledPairs: lastWarmup.scheduledPairs,
        warmupStatus: lastWarmup.status,
        startSeconds: Number(t1 - t0) / 1e9,
        activeSeconds: Number(t2 - t0) / 1e9,
        activeState: active.connectionState,
        restCandleCallsToActive: toActive,
        stopSeconds: Number(t4 - t3) / 1e9,
        stoppedState: stopped.connectionState,
        restCandleCallsToStopped: toStopped,
        transitions: events.flatMap((e) => (e.event.type === "transition" && e.event.to !== undefined ? [e.event.to] : []))
      } satisfies RunnerFigures
    }).pipe(Effect.provide(nodeLayer(row, symbols)), (effect) => withCoinbase(row, effect), Effect.withClock(clockAt(now)))
  )

// ---------------------------------------------------------------------------------------------------------------
// Redis under a fresh prefix

const prefix = `livermore-bench:${crypto.randomUUID()}:`

const Client = Layer.unwrapEffect(
  Effect.map(Config.string("REDIS_URL").pipe(Config.withDefault("redis://127.0.0.1:6379")), (url) =>
    RedisClient.layer({ url, keyPrefix: prefix, connectTimeout: "3 seconds" })
  )
)

/** Unlink every key under the prefix; returns how many there were. */
const removeKeys = Effect.flatMap(RedisClient.RedisClient, (redis) =>
  Effect.gen(function* () {
    let removed = 0
    let cursor = "0"
    do {
      const [next, keys] = yield* redis.use("bench.cleanup", (r) =>
        r.scan(cursor, "MATCH", `${Keys.escapeGlob(redis.prefix)}*`, "COUNT", 1000)
      )
      if (keys.length > 0) removed += yield* redis.use("bench.cleanup", (r) => r.unlink(...keys))
      cursor = next
    } while (cursor !== "0")
    return removed
  })
)

/** Whatever happens, nothing is left under the prefix. */
const Cleanup = Layer.scopedDiscard(Effect.addFinalizer(() => Effect.ignore(removeKeys)))

/** The warm-restart run measures time to active; the alerts its live stream may fire are not stored here. */
const IgnoredAlerts = Layer.succeed(AlertOutbox.AlertOutbox, { offer: () => Effect.void, drained: Effect.void })

const Cache = Layer.mergeAll(CacheServices.layerRedis, JsonStore.layerRedis, IgnoredAlerts).pipe(
  Layer.provideMerge(Layer.mergeAll(CacheConfig.layer(), Cleanup)),
  Layer.provideMerge(Client)
)

// ---------------------------------------------------------------------------------------------------------------
// Main

const fmt = (n: number, digits = 1) => n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })

const main = Effect.gen(function* () {
  const began = process.hrtime.bigint()
  const sim = yield* startSim({
    symbols: WARM_SYMBOLS,
    seed: 1,
    speed: 0,
    startTime: START,
    coinbase: { requestsPerSecond: COINBASE_LIMIT }
  })
  // Every fifth symbol, a different fifth for each run so each meets the simulator's candle cache cold; the last
  // 20% of the simulator's list is illiquid, so a fifth of each set is too.
  const stride = WARM_SYMBOLS / COLD_SYMBOLS
  const colds = yield* Effect.forEach(CONCURRENCIES, (concurrency, run) =>
    withCoinbase(
      coinbaseRow(sim, 9101 + run),
      coldWarmup(sim, sim.products.filter((_, i) => i % stride === run).slice(0, COLD_SYMBOLS), concurrency)
    )
  )

  const warmRow = coinbaseRow(sim, 9201)
  const fillStarted = process.hrtime.bigint()
  yield* fillFresh(warmRow.id, sim.products, START)
  const fillSeconds = Number(process.hrtime.bigint() - fillStarted) / 1e9
  // The runner first, as a restarted node would find the cache; then the warmup run alone over the same cache.
  const runner = yield* runnerRestart(sim, warmRow, sim.products, START + 60_000)
  const warm = yield* withCoinbase(warmRow, warmRestart(sim, sim.products, START + 60_000))

  const keysRemoved = yield* removeKeys
  const totalSeconds = Number(process.hrtime.bigint() - began) / 1e9

  console.log(
    `Warmup benchmark — simulator (worker thread, paused at ${new Date(START).toISOString()}) over real sockets, ` +
      `cache on Redis; Coinbase adapter; node ${process.version}`
  )
  console.log("")
  const row = (figure: string, value: (cold: ColdFigures) => string | number, goal = "") =>
    console.log(`| ${figure} | ${colds.map((cold) => value(cold)).join(" | ")} | ${goal} |`)
  console.log(
    `Cold warmup: ${COLD_SYMBOLS} symbols × ${TIMEFRAMES.length} timeframes each run, empty cache; simulator REST limit ` +
      `${COINBASE_LIMIT} requests/s (sliding second), row budget ${COINBASE_LIMIT * 60}/min`
  )
  console.log("")
  console.log(`| figure | ${colds.map((cold) => `concurrency ${cold.concurrency}${cold.concurrency === 1 ? " (default)" : ""}`).join(" | ")} | goal |`)
  console.log(`| --- | ${colds.map(() => "---:").join(" | ")} | ---: |`)
  row("pairs completed / failed", (c) => `${c.completedPairs} / ${c.failedPairs} of ${c.pairs}, ${c.status}`)
  row("REST candle requests (429s included)", (c) => c.requests)
  row("wall time, s", (c) => fmt(c.wallSeconds, 2))
  row("ideal = accepted requests ÷ limit, s", (c) => fmt(c.idealSeconds, 2))
  row("**wall ÷ ideal**", (c) => `**${fmt(c.ratio, 3)}**`, "≤ 1.1")
  row("adapter's target pace (its 10% headroom), requests/s", (c) => fmt(c.adapterPacePerSecond, 2))
  row("wall ÷ ideal at the adapter's pace", (c) => fmt(c.ratioToAdapterPace, 3))
  row("418s", (c) => c.banned, "0")
  row("429s", (c) => c.rateLimited)
  console.log("")
  console.log(`Warm restart: ${warm.symbols} symbols × ${TIMEFRAMES.length} timeframes, cache complete and fresh (${FRESH_CANDLES} candles per pair, written in ${fmt(fillSeconds, 2)} s)`)
  console.log("")
  console.log(
    `Through the exchange runner (ExchangeRunner + Lifecycle on Redis, Coinbase adapter on the simulator, universe = ` +
      `the ${runner.symbols} symbols; its clock reads the simulator's time, ${new Date(START + 60_000).toISOString()}):`
  )
  console.log("")
  console.log("| figure | value | goal |")
  console.log("| --- | ---: | ---: |")
  console.log(`| pairs (skipped / scheduled) | ${runner.pairs} (${runner.skippedPairs} / ${runner.scheduledPairs}), ${runner.warmupStatus} | |`)
  console.log(`| REST candle calls, start → active | ${runner.restCandleCallsToActive} | 0 |`)
  console.log(`| **seconds to active** (start → awaitActive, state ${runner.activeState}) | **${fmt(runner.activeSeconds, 3)} s** | ≤ 3 s |`)
  console.log(`| of which start (lock taken, run forked) | ${fmt(runner.startSeconds, 3)} s | |`)
  console.log(`| stop right after active (live stream down, lock released, state ${runner.stoppedState}) | ${fmt(runner.stopSeconds, 3)} s | |`)
  console.log(`| REST candle calls, start → stopped | ${runner.restCandleCallsToStopped} | 0 |`)
  console.log(`| transitions | ${runner.transitions.join(" → ")} | |`)
  console.log("")
  console.log("The warmup run alone, over the same cache:")
  console.log("")
  console.log("| figure | value | goal |")
  console.log("| --- | ---: | ---: |")
  console.log(`| pairs (skipped / scheduled) | ${warm.pairs} (${warm.skippedPairs} / ${warm.scheduledPairs}), ${warm.status} | |`)
  console.log(`| REST candle calls | ${warm.restCandleCalls} | 0 |`)
  console.log(`| warmup run (scan, schedule, stats) | ${fmt(warm.warmupSeconds, 3)} s | |`)
  console.log("")
  console.log(`Redis keys removed under the bench prefix: ${keysRemoved}; bench took ${fmt(totalSeconds, 1)} s`)

  const out = path.resolve(import.meta.dirname, "../../../bench-results")
  mkdirSync(out, { recursive: true })
  writeFileSync(
    path.join(out, "engine-warmup.json"),
    `${JSON.stringify({ at: new Date().toISOString(), node: process.version, adapter: "coinbase", cold: colds, runner, warm, fillSeconds }, null, 2)}\n`
  )
})

main.pipe(
  Effect.scoped,
  Effect.provide(Layer.mergeAll(Cache, NodeHttpClient.layerUndici)),
  Logger.withMinimumLogLevel(LogLevel.Error),
  NodeRuntime.runMain
)
