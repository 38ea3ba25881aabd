/**
 * Live pipeline benchmark (issue 6: domain.md §4, §7), 1,000 symbols × 5 timeframes with the cache on real Redis
 * (REDIS_URL, default redis://127.0.0.1:6379, under a fresh key prefix removed at the end):
 *
 * - **A. Throughput** of decode + cache + indicators. Binance combined-stream text frames are generated from the
 *   simulator's market beforehand (every series updated every `A_STEP_MS` of sim time across `A_WALK_MS`, with
 *   its closes at the boundaries, as the simulator's stream sends them), every series is warmed with `HISTORY`
 *   closed candles and primed, then the frames go through `LivePipeline.make(...).run` over a bench adapter: a
 *   producer fiber decodes them with `BinanceParse.frameFromText` and offers the events to a bounded queue that
 *   the stream reads with `Stream.fromQueue(queue, { maxChunkSize: 1024 })` (chunks of up to 1,024, as
 *   `ReconnectingSocket` takes frames off its queue; the pipeline's own `batched` regroups whatever arrives
 *   anyway), and decoding overlaps the pipeline's Redis round trips. The clock reads the sim time at which the
 *   newest candle the pipeline has written was sent. Measured: updates and closed candles per second, the pipeline's cache calls per
 *   chunk, and, in the same run, the per-message path the runner used before issue 6 (decode, then one
 *   `CandleCache.upsert` per frame, sequentially) over `PEER_FRAMES` of the same frames.
 * - **B. Latency** from a closing message to its alert: the simulator in a worker thread (`sim.ts`), Binance
 *   protocol, `SYMBOLS` symbols of which `CRASHED` crash by script, running at `SPEED`× from a paused start and
 *   pushing at Binance's wall-clock cadence; a node (`ExchangeRunner` + `Lifecycle`, the Binance adapter over
 *   real sockets, cache warm and fresh) whose Effect clock follows the simulator's. Measured: the pipeline's
 *   `onAlertLatency` samples (from the arrival of the chunk holding the close at the pipeline, i.e. after
 *   WebSocket receipt and decode, to the alert's PUBLISH), the close time → alert seen by a subscriber, and
 *   whether the node keeps up at all (messages sent vs taken in); the run stops early when it does not.
 *
 * Alerts are handed to an outbox stub that only counts. Performance is reported, not asserted: the process fails
 * only on an error. Prints a table and writes bench-results/engine-pipeline.json.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import * as path from "node:path"
import { Worker } from "node:worker_threads"
import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Bus, CacheConfig, CacheServices, CandleCache, ExchangeLock, IndicatorStore, Keys, RedisClient } from "@livermore/cache"
import { Alert, Candle, Exchange, Market, Timeframe } from "@livermore/domain"
import { ExchangeAdapter, type MarketEvent } from "@livermore/exchange"
import { BinanceAdapter, BinanceConfig, BinanceParse } from "@livermore/exchange-binance"
import { BinanceWs, Intervals, Options as SimOptions, Market as SimMarket } from "@livermore/exchange-sim"
import { MacdV } from "@livermore/indicators"
import {
  Clock,
  Config,
  Data,
  Deferred,
  Duration,
  Effect,
  Either,
  Layer,
  Logger,
  LogLevel,
  Metric,
  MetricLabel,
  Option,
  Queue,
  Schema,
  type Scope,
  Stream
} from "effect"
import * as AlertOutbox from "../src/AlertOutbox.js"
import * as ExchangeRunner from "../src/ExchangeRunner.js"
import * as IndicatorRecord from "../src/IndicatorRecord.js"
import * as Ingest from "../src/Ingest.js"
import * as JsonStore from "../src/JsonStore.js"
import * as Lifecycle from "../src/Lifecycle.js"
import * as LivePipeline from "../src/LivePipeline.js"
import * as Metrics from "../src/Metrics.js"
import * as WarmupPlan from "../src/WarmupPlan.js"
import type { Ready } from "./sim.js"

// ---------------------------------------------------------------------------------------------------------------
// Settings

const SYMBOLS = 1000
const TIMEFRAMES = ["5m", "15m", "1h", "4h", "1d"] as const satisfies ReadonlyArray<Timeframe.Timeframe>
/** The simulator's market seed (this thread builds the same market for the frames and the history). */
const SEED = 1
/** Closed candles cached per series before live data: what warmup asks for, and enough for alerts to fire. */
const HISTORY = Math.max(WarmupPlan.defaultMinCandles, MacdV.MIN_BARS_FOR_ALERTS)
/**
 * Timeframes whose history is a synthetic walk ending at the market's price instead of the simulator's own
 * candles: 60 daily candles take the simulator ~40 ms per symbol to build (every 5-minute bar of 60 days), 40 s
 * for 1,000 symbols. The walk has the market's price at its end, so live candles continue it without a jump.
 */
const SYNTHETIC_HISTORY: ReadonlySet<Timeframe.Timeframe> = new Set(["4h", "1d"])

/** A: sim time of the first frame, 10 minutes before a UTC midnight, so every timeframe closes in the walk. */
const A_START = Date.UTC(2024, 0, 10, 23, 50)
/** A: sim time the frames cover: 4 closes of 5m per symbol, one each of 15m, 1h, 4h and 1d. */
const A_WALK_MS = 20 * 60_000
/** A: sim time between two updates of one series (every series is updated at every step): 10 per 5m candle. */
const A_STEP_MS = 30_000
/** A: frames of the per-message peer (the first ones of the same frames). */
const PEER_FRAMES = 20_000
/** A: events the bench adapter's queue holds ahead of the pipeline. */
const A_QUEUE = 4096

/** B: the simulator's speed (sim ms per real ms): a 5m candle closes every 2.5 real seconds. */
const SPEED = 120
/** B: sim time at start (paused there until the node is live): 23:00 UTC, so 1h, 4h and 1d close at midnight. */
const B_START = Date.UTC(2024, 2, 4, 23)
/** B: symbols crashed by script, every 40th (all liquid: the last 20 % of the list are illiquid). */
const CRASHED = 20
const CRASH_STRIDE = 40
/** B: the crash starts two 5m bars after the start. */
const CRASH_FROM = B_START + 2 * Timeframe.durationMs["5m"]
/** The crash of exchange-sim's README: MACD-V below −200 on the fall, then a reversal. */
const CRASH_LEGS = [
  { bars: 24, drift: -0.012 },
  { bars: 20, drift: 0.015 }
]
/** B: sim time the market runs for: the fall, the turn and the first bars of the recovery. */
const B_RUN_MS = (2 + 24 + 10) * Timeframe.durationMs["5m"]
/** B: alert samples wanted; the run goes on (up to `B_EXTRA_MS` more sim time) until there are this many. */
const B_MIN_SAMPLES = 200
const B_EXTRA_MS = 20 * Timeframe.durationMs["5m"]
/**
 * B: the simulator pushes klines every 2 s and tickers every 1 s of **wall** time, as Binance does, so the load
 * per real second is the venue's while boundaries come `SPEED` times as often (at the default sim-time cadences,
 * 120× would mean 120 times Binance's message rate). The adapter's idle timeout is scaled the same way: the node's
 * clock reads sim time, and 60 s of silence means 60 real seconds.
 */
const KLINE_PUSH_MS = 2000 * SPEED
const TICKER_PUSH_MS = 1000 * SPEED
const IDLE_TIMEOUT = Duration.seconds(60 * SPEED)
/**
 * B: the pipeline's staleness grace (default 30 s) in wall time too: at 120×, 30 s of sim time is a quarter of a
 * real second, and a close still in the socket buffer that long would count as missing (and be fetched by REST).
 */
const STALE_GRACE = Duration.seconds(30 * SPEED)

// ---------------------------------------------------------------------------------------------------------------
// Shared pieces

class BenchError extends Data.TaggedError("BenchError")<{ readonly message: string }> {}

const EXCHANGE_A = 9301
const EXCHANGE_PEER = 9302
const EXCHANGE_B = 9401

/** A Binance-protocol row, limits as the seeded `sim_binance` row's. */
const binanceRow = (id: number, urls: { readonly wsUrl: string; readonly restUrl: string }): Exchange.Exchange =>
  Exchange.Exchange.make({
    id: Schema.decodeSync(Exchange.ExchangeId)(id),
    name: Schema.decodeSync(Exchange.ExchangeName)(`bench_binance_${id}`),
    displayName: "Binance (simulator, bench)",
    adapter: "binance",
    wsUrl: urls.wsUrl,
    restUrl: urls.restUrl,
    timeframes: TIMEFRAMES,
    apiLimits: Exchange.ApiLimits.make({
      restWeightPerMinute: 6000,
      candlesPerRequest: 1000,
      wsMessagesPerSecond: 5,
      wsMaxStreamsPerConnection: 1024,
      wsMaxConnectionHours: Option.none()
    }),
    fees: Exchange.Fees.make({ maker: 0.001, taker: 0.001 }),
    geoRestrictions: [],
    isActive: true
  })

/** The simulator's market as `ExchangeSim.make` builds it from the same options (scripts included). */
const simMarket = (options: SimOptions.SimOptionsInput): SimMarket.Market => {
  const decoded = Schema.decodeUnknownSync(SimOptions.SimOptions)(options)
  const market = SimMarket.make({
    seed: decoded.seed,
    symbols: decoded.symbols,
    illiquidRatio: decoded.illiquidRatio,
    emptyBucketProbability: decoded.emptyBucketProbability,
    listedAt: decoded.listedAt
  })
  for (const script of decoded.scripts) {
    const added = market.addScript(script)
    if (Either.isLeft(added)) throw new Error(`script for ${script.symbol}: ${added.left.message}`)
  }
  return market
}

const intervalOf = (timeframe: Timeframe.Timeframe): Intervals.Interval => {
  const interval = Intervals.binance.get(BinanceParse.intervalOf(timeframe))
  if (interval === undefined) throw new Error(`the simulator does not serve ${timeframe}`)
  return interval
}

const symbolId = Schema.decodeSync(Market.SymbolId)

/** A deterministic uniform [0, 1) stream (mulberry32). */
const uniforms = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * `HISTORY` closed candles of `timeframe` opening at `last - (HISTORY - 1) × ms` … `last`, a random walk (3 % a
 * day) whose last close is `endPrice`.
 */
const syntheticHistory = (timeframe: Timeframe.Timeframe, last: number, endPrice: number, seed: number) => {
  const ms = Timeframe.durationMs[timeframe]
  const sigma = 0.03 * Math.sqrt(ms / Timeframe.durationMs["1d"])
  const next = uniforms(seed)
  const out: Array<Candle.Candle> = []
  let close = endPrice
  for (let i = HISTORY - 1; i >= 0; i--) {
    const open = close / Math.exp(sigma * (next() * 2 - 1) * 1.7)
    const wick = 1 + sigma * next() * 0.5
    out.push(
      new Candle.Candle({
        openTime: last - (HISTORY - 1 - i) * ms,
        open,
        high: Math.max(open, close) * wick,
        low: Math.min(open, close) / wick,
        close,
        volume: 1000 * (0.5 + next()),
        closed: true,
        synthetic: false
      })
    )
    close = open
  }
  return out.reverse()
}

/**
 * Write `HISTORY` closed candles for every series of `symbols` × `TIMEFRAMES`, ending at the last close before
 * `at`: the simulator's own candles (what its REST would return), except for `SYNTHETIC_HISTORY`, in batches
 * through `upsertBatch`. Symbol by symbol, which keeps the market's memo caches warm.
 */
const fillHistory = (
  exchangeId: Exchange.ExchangeId,
  market: SimMarket.Market,
  symbols: ReadonlyArray<SimMarket.SimSymbol>,
  at: number
) =>
  Effect.gen(function* () {
    const cache = yield* CandleCache.CandleCache
    const batches: Array<Array<CandleCache.SeriesCandle>> = []
    let batch: Array<CandleCache.SeriesCandle> = []
    for (const s of symbols) {
      TIMEFRAMES.forEach((timeframe, t) => {
        const interval = intervalOf(timeframe)
        const current = Intervals.openTimeOf(interval, at)
        const last = current - interval.ms
        const series = { exchangeId, symbol: symbolId(s.binance), timeframe }
        if (SYNTHETIC_HISTORY.has(timeframe)) {
          const forming = market.candle(s, interval, current, at)
          if (forming === undefined) throw new Error(`no ${timeframe} candle of ${s.binance} at ${at}`)
          const endPrice = SimMarket.toCandle(s, forming).open
          for (const candle of syntheticHistory(timeframe, last, endPrice, s.index * 8 + t + 1)) batch.push({ series, candle })
        } else {
          const from = last - (HISTORY - 1) * interval.ms
          for (const bar of SimMarket.range(market, s, interval, from, last, at, HISTORY, false)) {
            batch.push({ series, candle: SimMarket.toCandle(s, bar) })
          }
        }
      })
      if (batch.length >= 2000) {
        batches.push(batch)
        batch = []
      }
    }
    if (batch.length > 0) batches.push(batch)
    yield* Effect.forEach(batches, (entries) => cache.upsertBatch(entries), { concurrency: 4, discard: true })
  })

/**
 * A clock reading `read()` as "now" while sleeping in real time (as test/simTime.ts): the node sees the market's
 * time, so closes, staleness and freshness follow the market however fast it runs.
 */
const followingClock = (read: () => number): Clock.Clock => {
  const real = Clock.make()
  const millis = () => Math.floor(read())
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: millis,
    currentTimeMillis: Effect.sync(millis),
    unsafeCurrentTimeNanos: () => BigInt(millis()) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(millis()) * 1_000_000n),
    sleep: (duration) => real.sleep(duration)
  }
}

/** An outbox that only counts what it is offered, by timeframe and by kind of rule. */
const countingOutbox = () => {
  const byTimeframe: Record<string, number> = {}
  const byRule: Record<string, number> = {}
  const layer = Layer.succeed(AlertOutbox.AlertOutbox, {
    offer: (alert: Alert.Alert) =>
      Effect.sync(() => {
        byTimeframe[alert.timeframe] = (byTimeframe[alert.timeframe] ?? 0) + 1
        const rule = alert.label.startsWith("level") ? "level" : alert.label
        byRule[rule] = (byRule[rule] ?? 0) + 1
      }),
    drained: Effect.void
  })
  return { layer, byTimeframe, byRule }
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0)

const secondsSince = (from: number) => (performance.now() - from) / 1000

// ---------------------------------------------------------------------------------------------------------------
// A. Throughput

/** Pre-generated combined-stream frames, in the order they are sent, with the sim time each was sent at. */
interface Frames {
  readonly texts: ReadonlyArray<string>
  readonly sentAt: ReadonlyArray<number>
  readonly closed: number
}

/**
 * Every series updated at each step of `A_STEP_MS` from `A_START` across `A_WALK_MS`: as the simulator's
 * `pushKline`, a series whose candle rolled over gets its final kline (`x: true`) first, then its forming kline.
 * One step sends the symbols in turn, each with its timeframes. Generated symbol by symbol (the market's memo
 * caches stay warm: 3× faster), then laid out step by step.
 */
const generateFrames = (market: SimMarket.Market, symbols: ReadonlyArray<SimMarket.SimSymbol>): Frames => {
  const steps = Math.floor(A_WALK_MS / A_STEP_MS) + 1
  const byStep = Array.from({ length: steps }, () => [] as Array<string>)
  let closed = 0
  const kinds = TIMEFRAMES.map((timeframe) => ({ interval: intervalOf(timeframe), name: BinanceParse.intervalOf(timeframe) }))
  for (const s of symbols) {
    const lower = s.binance.toLowerCase()
    const open = kinds.map(({ interval }) => Intervals.openTimeOf(interval, A_START))
    for (let step = 0; step < steps; step++) {
      const t = A_START + step * A_STEP_MS
      const out = byStep[step]!
      kinds.forEach(({ interval, name }, k) => {
        const send = (bar: SimMarket.Bar | undefined) => {
          if (bar === undefined) return
          out.push(JSON.stringify({ stream: `${lower}@kline_${name}`, data: BinanceWs.klineEvent(s, name, bar, t) }))
          if (bar.closed) closed++
        }
        const current = Intervals.openTimeOf(interval, t)
        for (; open[k]! < current; open[k] = open[k]! + interval.ms) send(market.candle(s, interval, open[k]!, t))
        send(market.candle(s, interval, current, t))
      })
    }
  }
  const texts: Array<string> = []
  const sentAt: Array<number> = []
  byStep.forEach((frames, step) => {
    for (const text of frames) {
      texts.push(text)
      sentAt.push(A_START + step * A_STEP_MS)
    }
  })
  return { texts, sentAt, closed }
}

const notUsed = (what: string) => Effect.dieMessage(`ExchangeAdapter.${what}: not used by the benchmark`)

/**
 * The adapter A feeds the pipeline through. Its stream decodes `frames` in a producer fiber, 1,024 at a time,
 * into a bounded queue that is read in chunks of up to 1,024 (`Stream.fromQueue(queue, { maxChunkSize: 1024 })`),
 * and ends after the last one. No per-message stream operators: this is decode + pipeline, not the socket
 * layer's plumbing (which B includes). `sentAt` learns, for each decoded candle, the sim time its frame was sent.
 */
const benchAdapter = (
  row: Exchange.Exchange,
  frames: Frames,
  sentAt: WeakMap<Candle.Candle, number>
) =>
  Layer.succeed(
    ExchangeAdapter.ExchangeAdapter,
    ExchangeAdapter.ExchangeAdapter.of({
      exchange: row,
      stream: () =>
        Stream.unwrapScoped(
          Effect.gen(function* () {
            const queue = yield* Effect.acquireRelease(Queue.bounded<MarketEvent.MarketEvent>(A_QUEUE), Queue.shutdown)
            const produce = Effect.gen(function* () {
              for (let i = 0; i < frames.texts.length; i += 1024) {
                const end = Math.min(frames.texts.length, i + 1024)
                const events: Array<MarketEvent.MarketEvent> = []
                for (let j = i; j < end; j++) {
                  const frame = BinanceParse.frameFromText(row.name, frames.texts[j]!)
                  if (Either.isLeft(frame)) return yield* Effect.die(frame.left)
                  if (frame.right._tag !== "Event") return yield* Effect.dieMessage(`frame ${j} is not an event`)
                  const event = frame.right.event
                  if (event._tag === "Candle") sentAt.set(event.candle, frames.sentAt[j]!)
                  events.push(event)
                }
                yield* Queue.offerAll(queue, events)
              }
            })
            yield* Effect.forkScoped(produce)
            return Stream.fromQueue(queue, { maxChunkSize: 1024 }).pipe(Stream.take(frames.texts.length))
          })
        ),
      history: () => notUsed("history"),
      products: notUsed("products"),
      volumes24h: notUsed("volumes24h"),
      restStats: notUsed("restStats"),
      malformedFrames: Effect.succeed(0)
    })
  )

/** Milliseconds spent in the pipeline's cache calls (encoding and round trip), by stage. */
interface StageTimes {
  /** Not a time: `upsertBatch` calls (one per chunk holding candles) and the entries they carried. */
  candleBatches: number
  candleEntries: number
  candleWrites: number
  closePublications: number
  tickerPublications: number
  indicatorWrites: number
  indicatorPublications: number
  alertPublications: number
}

const noStageTimes = (): StageTimes => ({
  candleBatches: 0,
  candleEntries: 0,
  candleWrites: 0,
  closePublications: 0,
  tickerPublications: 0,
  indicatorWrites: 0,
  indicatorPublications: 0,
  alertPublications: 0
})

/**
 * The cache services of the environment, each call of the live path timed into `times` (wall time from call to
 * reply: encoding, the round trip, and whatever else ran on the thread meanwhile).
 */
const timedServices = (
  times: StageTimes,
  onWrite: (entries: ReadonlyArray<CandleCache.SeriesCandle>) => void = () => {}
) => {
  const timed = <A, E>(stage: Exclude<keyof StageTimes, "candleBatches" | "candleEntries">, effect: Effect.Effect<A, E>) =>
    Effect.suspend(() => {
      const started = performance.now()
      return Effect.ensuring(
        effect,
        Effect.sync(() => {
          times[stage] += performance.now() - started
        })
      )
    })
  const cache = Layer.effect(
    CandleCache.CandleCache,
    Effect.map(CandleCache.CandleCache, (service) =>
      CandleCache.CandleCache.of({
        ...service,
        upsertBatch: (entries) => {
          onWrite(entries)
          times.candleBatches++
          times.candleEntries += entries.length
          return timed("candleWrites", service.upsertBatch(entries))
        }
      })
    )
  )
  const bus = Layer.effect(
    Bus.Bus,
    Effect.map(Bus.Bus, (service) =>
      Bus.Bus.of({
        ...service,
        publishBatch: (schema, messages) => {
          const of: unknown = schema
          const stage =
            of === IndicatorRecord.IndicatorRecord
              ? "indicatorPublications"
              : of === Ingest.CandleClosed
                ? "closePublications"
                : "tickerPublications"
          return timed(stage, service.publishBatch(schema, messages))
        },
        publishOnce: (channel, schema, value, once) =>
          timed("alertPublications", service.publishOnce(channel, schema, value, once))
      })
    )
  )
  const indicators = Layer.effect(
    IndicatorStore.IndicatorStore,
    Effect.map(IndicatorStore.IndicatorStore, (service) =>
      IndicatorStore.IndicatorStore.of({
        ...service,
        setMany: (schema, entries) => timed("indicatorWrites", service.setMany(schema, entries))
      })
    )
  )
  return Layer.mergeAll(cache, bus, indicators)
}

/** What A measured. */
interface ThroughputFigures {
  readonly symbols: number
  readonly series: number
  readonly frames: number
  readonly closedFrames: number
  readonly simMinutes: number
  readonly stepSeconds: number
  readonly generateSeconds: number
  readonly fillSeconds: number
  readonly primeSeconds: number
  readonly prime: LivePipeline.PrimeReport
  /** `pipeline.run` from start to the end of the frames: decode, Ingest, indicators, alerts. */
  readonly wallSeconds: number
  readonly updatesPerSecond: number
  readonly closedPerSecond: number
  /** Batches the pipeline handled (one candle write each), and candle updates per batch after coalescing. */
  readonly batches: number
  readonly meanBatch: number
  readonly alertsOffered: number
  /** Per batch, ms: the run's wall time, and the pipeline's cache calls by stage (see `timedServices`). */
  readonly perBatch: StageTimes & { readonly wall: number }
  /** Decode alone (`frameFromText`), µs per frame, over the peer's frames after the peer ran. */
  readonly decodeMicros: number
  readonly peer: { readonly frames: number; readonly wallSeconds: number; readonly updatesPerSecond: number }
  /** Pipeline updates/s ÷ peer updates/s. */
  readonly ratio: number
}

const throughput = Effect.gen(function* () {
  const market = simMarket({ symbols: SYMBOLS, seed: SEED })
  const symbols = market.symbols.slice(0, SYMBOLS)
  const row = binanceRow(EXCHANGE_A, { wsUrl: "ws://bench.invalid", restUrl: "http://bench.invalid" })

  const fillStarted = performance.now()
  yield* fillHistory(row.id, market, symbols, A_START)
  const fillSeconds = secondsSince(fillStarted)
  const generateStarted = performance.now()
  const frames = generateFrames(market, symbols)
  const generateSeconds = secondsSince(generateStarted)

  // The pipeline reads the clock right after writing a batch: the newest send time written is its "now" (the
  // decoder runs up to two queues ahead, 20,000 frames or two minutes of sim time, so its position would not do).
  let now = A_START
  const clock = followingClock(() => now)
  const sentAt = new WeakMap<Candle.Candle, number>()
  const written = (entries: ReadonlyArray<CandleCache.SeriesCandle>) => {
    for (const { candle } of entries) now = Math.max(now, sentAt.get(candle) ?? now)
  }
  const outbox = countingOutbox()
  const times = noStageTimes()
  const pipeline = yield* LivePipeline.make({ symbols: symbols.map((s) => symbolId(s.binance)), timeframes: TIMEFRAMES }).pipe(
    Effect.provide(Layer.mergeAll(benchAdapter(row, frames, sentAt), outbox.layer, timedServices(times, written)))
  )
  const primeStarted = performance.now()
  const prime = yield* Effect.withClock(pipeline.prime, clock)
  const primeSeconds = secondsSince(primeStarted)
  const primed = { ...times }
  const runStarted = performance.now()
  yield* Effect.withClock(pipeline.run, clock)
  const wallSeconds = secondsSince(runStarted)
  // Priming wrote every series' record through the same services: only the live run's calls count.
  const batches = Math.max(1, times.candleBatches - primed.candleBatches)
  const perBatch = {
    wall: (wallSeconds * 1000) / batches,
    candleBatches: batches,
    candleEntries: times.candleEntries - primed.candleEntries,
    candleWrites: (times.candleWrites - primed.candleWrites) / batches,
    closePublications: (times.closePublications - primed.closePublications) / batches,
    tickerPublications: (times.tickerPublications - primed.tickerPublications) / batches,
    indicatorWrites: (times.indicatorWrites - primed.indicatorWrites) / batches,
    indicatorPublications: (times.indicatorPublications - primed.indicatorPublications) / batches,
    alertPublications: (times.alertPublications - primed.alertPublications) / batches
  }

  // The per-message path before issue 6, on an exchange id (and so keys) of its own, over the first frames.
  const cache = yield* CandleCache.CandleCache
  const peerId = Schema.decodeSync(Exchange.ExchangeId)(EXCHANGE_PEER)
  const peerFrames = Math.min(PEER_FRAMES, frames.texts.length)
  const peerStarted = performance.now()
  for (let i = 0; i < peerFrames; i++) {
    const frame = BinanceParse.frameFromText(row.name, frames.texts[i]!)
    if (Either.isLeft(frame) || frame.right._tag !== "Event" || frame.right.event._tag !== "Candle") {
      return yield* new BenchError({ message: `peer: frame ${i} is not a candle update` })
    }
    const { symbol, timeframe, candle } = frame.right.event
    yield* cache.upsert({ exchangeId: peerId, symbol, timeframe }, candle)
  }
  const peerSeconds = secondsSince(peerStarted)

  const decodeStarted = performance.now()
  for (let i = 0; i < peerFrames; i++) BinanceParse.frameFromText(row.name, frames.texts[i]!)
  const decodeMicros = ((performance.now() - decodeStarted) * 1000) / peerFrames

  const updatesPerSecond = frames.texts.length / wallSeconds
  const peerRate = peerFrames / peerSeconds
  return {
    symbols: symbols.length,
    series: symbols.length * TIMEFRAMES.length,
    frames: frames.texts.length,
    closedFrames: frames.closed,
    simMinutes: A_WALK_MS / 60_000,
    stepSeconds: A_STEP_MS / 1000,
    generateSeconds,
    fillSeconds,
    primeSeconds,
    prime,
    wallSeconds,
    updatesPerSecond,
    closedPerSecond: frames.closed / wallSeconds,
    batches,
    meanBatch: perBatch.candleEntries / batches,
    alertsOffered: total(outbox.byTimeframe),
    perBatch,
    decodeMicros,
    peer: { frames: peerFrames, wallSeconds: peerSeconds, updatesPerSecond: peerRate },
    ratio: updatesPerSecond / peerRate
  } satisfies ThroughputFigures
})

// ---------------------------------------------------------------------------------------------------------------
// B. Latency: the simulator in a worker thread

/** What the bench reads of `GET /__sim/stats`. */
const SimStats = Schema.Struct({
  rest: Schema.Record({ key: Schema.String, value: Schema.Number }),
  wsConnectionsTotal: Schema.Number,
  wsMessagesOut: Schema.Number,
  binance: Schema.Struct({ connections: Schema.Number, subscriptions: Schema.Number })
})
type SimStats = typeof SimStats.Type

/** `GET|POST /__sim/clock`. */
const SimClockJson = Schema.Struct({ now: Schema.Number, speed: Schema.Number })

interface Sim {
  readonly url: string
  readonly wsUrl: string
  readonly products: ReadonlyArray<string>
  readonly stats: Effect.Effect<SimStats, unknown>
  /** Set the speed (`POST /__sim/clock`); returns the sim time and the real time (`Date.now()`) it was read at. */
  readonly setSpeed: (speed: number) => Effect.Effect<{ readonly sim: number; readonly real: number }, unknown>
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
        worker.once("error", (cause) =>
          Deferred.unsafeDone(ready, Effect.fail(new BenchError({ message: `simulator worker: ${cause.message}` })))
        )
        return worker
      }),
      (worker) => Effect.promise(() => worker.terminate())
    )
    const started = yield* Deferred.await(ready).pipe(
      Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new BenchError({ message: "the simulator worker did not start" }) })
    )
    return {
      url: started.url,
      wsUrl: started.wsUrl,
      products: started.products,
      stats: client.get(`${started.url}/__sim/stats`).pipe(Effect.flatMap(HttpClientResponse.schemaBodyJson(SimStats))),
      // The sim time answered was read between the two wall-clock readings: taking their middle errs by at most
      // half the round trip (× speed in sim time), well under a millisecond here.
      setSpeed: (speed) =>
        Effect.gen(function* () {
          const before = Date.now()
          const request = HttpClientRequest.post(`${started.url}/__sim/clock`).pipe(HttpClientRequest.bodyUnsafeJson({ speed }))
          const answer = yield* client.execute(request).pipe(Effect.flatMap(HttpClientResponse.schemaBodyJson(SimClockJson)))
          return { sim: answer.now, real: (before + Date.now()) / 2 }
        })
    } satisfies Sim
  })

/** Wait (polling every 100 ms of real time) until `check` holds, or fail naming `what` after `timeout`. */
const waitUntil = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, timeout: Duration.DurationInput) =>
  Effect.gen(function* () {
    while (!(yield* check)) yield* Effect.sleep("100 millis")
  }).pipe(Effect.timeoutFail({ duration: timeout, onTimeout: () => new BenchError({ message: `timed out waiting for ${what}` }) }))

/** The bench's node instance, as the lock shows it. */
const INSTANCE_ID = "bench-pipeline-node"

/**
 * One node serving `row` (as `nodeLayer` in the engine tests): the runner over its lifecycle, over the cache
 * services, the adapter and the outbox of the environment; production defaults but for the latency samples.
 */
const nodeLayer = (row: Exchange.Exchange, symbols: ReadonlyArray<Market.SymbolId>, samples: Array<number>) =>
  ExchangeRunner.layer({
    holder: new ExchangeLock.LockHolder({ instanceId: INSTANCE_ID, hostname: hostname(), ipAddress: "127.0.0.1", connectedAt: null }),
    universe: Effect.succeed(symbols),
    pipeline: { onAlertLatency: (ms) => samples.push(ms), staleGrace: STALE_GRACE }
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

/** Latency samples, ms, summarised. */
interface Distribution {
  readonly count: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!

const distribution = (samples: ReadonlyArray<number>): Distribution => {
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN
  }
}

/** What B measured. */
interface LatencyFigures {
  readonly symbols: number
  readonly crashed: ReadonlyArray<string>
  readonly speed: number
  readonly fillSeconds: number
  /** `start` → `awaitActive` (warmup scan over the warm cache, prime), then until every stream is subscribed. */
  readonly activeSeconds: number
  readonly subscribedSeconds: number
  /** Real seconds the market ran, and the sim minutes it covered. */
  readonly runSeconds: number
  readonly simMinutes: number
  /** The pipeline's own samples: arrival of the chunk holding the close at the pipeline → the alert's PUBLISH. */
  readonly pipeline: Distribution
  /**
   * Seen from outside: the candle's close time (on the simulator's clock, mapped to wall time) → the alert
   * received by a subscriber of the alerts channel. Includes the simulator's push (its market loop ticks at
   * most every 50 ms), the socket, decode, any queueing before the pipeline, and Redis pub/sub delivery.
   */
  readonly endToEnd: Distribution
  readonly alertsByTimeframe: Record<string, number>
  readonly alertsByRule: Record<string, number>
  /** Frames the simulator sent, and messages the pipeline took in, per real second while the market ran. */
  readonly sentPerSecond: number
  readonly handledPerSecond: number
  /** Messages sent but not yet taken in by the pipeline when the run ended. */
  readonly backlog: number
  /** False when the node fell behind (a connection dropped for a slow consumer, or `MAX_BACKLOG` exceeded). */
  readonly keptUp: boolean
  readonly wsConnectionsOpened: number
  readonly restKlineCalls: number
  /** The pipeline's candle writes (one per chunk holding candles) while the market ran, and candles per write. */
  readonly candleBatches: number
  readonly candlesPerBatch: number
}

/** Messages sent but not taken in by the pipeline beyond which the node counts as fallen behind. */
const MAX_BACKLOG = 20_000

const latency = Effect.gen(function* () {
  const unscripted = simMarket({ symbols: SYMBOLS, seed: SEED })
  const crashed = Array.from({ length: CRASHED }, (_, i) => unscripted.symbols[i * CRASH_STRIDE]!.binance)
  const options: SimOptions.SimOptionsInput = {
    symbols: SYMBOLS,
    seed: SEED,
    speed: 0,
    startTime: B_START,
    binance: { klinePushMs: KLINE_PUSH_MS, tickerPushMs: TICKER_PUSH_MS },
    scripts: crashed.map((symbol) => ({ symbol, from: CRASH_FROM, legs: CRASH_LEGS }))
  }
  const sim = yield* startSim(options)
  const market = simMarket(options)
  const symbols = market.symbols.slice(0, SYMBOLS)
  if (symbols.some((s, i) => s.coinbase !== sim.products[i])) {
    return yield* new BenchError({ message: "the simulator's symbols differ from this thread's market" })
  }
  const row = binanceRow(EXCHANGE_B, { wsUrl: sim.wsUrl, restUrl: sim.url })
  const fillStarted = performance.now()
  yield* fillHistory(row.id, market, symbols, B_START)
  const fillSeconds = secondsSince(fillStarted)

  let anchor = { sim: B_START, real: Date.now(), speed: 0 }
  const simNow = () => anchor.sim + (Date.now() - anchor.real) * anchor.speed
  const pipelineSamples: Array<number> = []
  const endToEndSamples: Array<number> = []
  const outbox = countingOutbox()
  const times = noStageTimes()
  const adapter = BinanceAdapter.layer(row).pipe(Layer.provide(BinanceConfig.layer({ idleTimeout: IDLE_TIMEOUT })))
  const universe = symbols.map((s) => symbolId(s.binance))
  const handled = Metric.value(
    Metrics.wsMessagesReceived.pipe(Metric.taggedWithLabels([MetricLabel.make("exchange", row.name)]))
  ).pipe(Effect.map((state) => Number(state.count)))

  // Alerts as a subscriber sees them: the close time mapped to wall time, against the time of receipt.
  const alerts = yield* Effect.flatMap(Bus.Bus, (bus) => bus.subscribe(Keys.alertsChannel(row.id), Alert.Alert))
  yield* Effect.forkScoped(
    Stream.runForEach(alerts, (alert) =>
      Effect.sync(() => {
        const closeTime = alert.candleOpenTime + Timeframe.durationMs[alert.timeframe]
        if (anchor.speed > 0) endToEndSamples.push(Date.now() - (anchor.real + (closeTime - anchor.sim) / anchor.speed))
      })
    )
  )

  return yield* Effect.gen(function* () {
    const runner = yield* ExchangeRunner.ExchangeRunner
    const t0 = performance.now()
    yield* runner.start("bench: latency")
    yield* runner.awaitActive.pipe(
      Effect.timeoutFail({ duration: "120 seconds", onTimeout: () => new BenchError({ message: "the runner did not become active" }) })
    )
    const activeSeconds = secondsSince(t0)
    // Streams subscribe at the adapter's paced 5 messages/s per connection; the market starts once all are in
    // (at 120× the throttle, which runs on the node's clock, would pace far too fast).
    yield* waitUntil(
      "every stream subscribed",
      Effect.map(sim.stats, (stats) => stats.binance.subscriptions >= SYMBOLS * (TIMEFRAMES.length + 1)),
      "60 seconds"
    )
    const subscribedSeconds = secondsSince(t0)
    yield* waitUntil(
      "the subscription snapshot taken in",
      Effect.zipWith(sim.stats, handled, (stats, taken) => stats.wsMessagesOut - taken < 100),
      "60 seconds"
    )
    const before = yield* sim.stats
    const handledBefore = yield* handled
    const timesBefore = { ...times }
    anchor = { ...(yield* sim.setSpeed(SPEED)), speed: SPEED }
    const runStarted = performance.now()
    const end = B_START + B_RUN_MS
    let keptUp = true
    let backlog = 0
    while (simNow() < end + B_EXTRA_MS && (simNow() < end || pipelineSamples.length < B_MIN_SAMPLES)) {
      yield* Effect.sleep("250 millis")
      const stats = yield* sim.stats
      backlog = stats.wsMessagesOut - before.wsMessagesOut - ((yield* handled) - handledBefore)
      if (stats.wsConnectionsTotal > before.wsConnectionsTotal || backlog > MAX_BACKLOG) {
        keptUp = false
        break
      }
    }
    const runSeconds = secondsSince(runStarted)
    const after = yield* sim.stats
    const handledAfter = yield* handled
    const candleBatches = times.candleBatches - timesBefore.candleBatches
    const candleEntries = times.candleEntries - timesBefore.candleEntries
    const simMinutes = (simNow() - B_START) / 60_000
    yield* sim.setSpeed(0)
    yield* runner.stop("bench: done")
    return {
      symbols: SYMBOLS,
      crashed,
      speed: SPEED,
      fillSeconds,
      activeSeconds,
      subscribedSeconds,
      runSeconds,
      simMinutes,
      pipeline: distribution(pipelineSamples),
      endToEnd: distribution(endToEndSamples),
      alertsByTimeframe: outbox.byTimeframe,
      alertsByRule: outbox.byRule,
      sentPerSecond: (after.wsMessagesOut - before.wsMessagesOut) / runSeconds,
      handledPerSecond: (handledAfter - handledBefore) / runSeconds,
      backlog: after.wsMessagesOut - before.wsMessagesOut - (handledAfter - handledBefore),
      keptUp,
      wsConnectionsOpened: after.wsConnectionsTotal,
      restKlineCalls: after.rest["GET /api/v3/klines"] ?? 0,
      candleBatches,
      candlesPerBatch: candleEntries / Math.max(1, candleBatches)
    } satisfies LatencyFigures
  }).pipe(
    Effect.provide(nodeLayer(row, universe, pipelineSamples)),
    Effect.provide(Layer.mergeAll(adapter, outbox.layer, timedServices(times))),
    Effect.withClock(followingClock(simNow))
  )
}).pipe(Effect.scoped)

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

const Cache = Layer.mergeAll(CacheServices.layerRedis, JsonStore.layerRedis).pipe(
  Layer.provideMerge(Layer.mergeAll(CacheConfig.layer(), Cleanup)),
  Layer.provideMerge(Client)
)

/** The Redis server's version, for the report. */
const redisVersion = Effect.flatMap(RedisClient.RedisClient, (redis) =>
  redis.use("bench.info", (r) => r.info("server")).pipe(
    Effect.map((info) => /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown")
  )
)

// ---------------------------------------------------------------------------------------------------------------
// Main

const fmt = (n: number, digits = 1) =>
  Number.isNaN(n) ? "–" : n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
const counts = (record: Record<string, number>, order: ReadonlyArray<string>) =>
  order.filter((key) => record[key] !== undefined).map((key) => `${key} ${record[key]}`).join(", ")

const main = Effect.gen(function* () {
  const began = performance.now()
  const version = yield* redisVersion
  // B first, while the heap is small: A's frames (a few hundred MB of strings) would otherwise be collected
  // during B's measurement.
  const b = yield* latency
  const a = yield* throughput
  const keysRemoved = yield* removeKeys
  const totalSeconds = secondsSince(began)

  console.log(
    `Live pipeline benchmark — ${SYMBOLS} symbols × ${TIMEFRAMES.length} timeframes (${TIMEFRAMES.join(", ")}), cache on Redis ${version}; ` +
      `node ${process.version}`
  )
  console.log("")
  console.log(
    `A. Throughput: ${fmt(a.frames, 0)} Binance combined-stream kline frames (${fmt(a.closedFrames, 0)} closes) over ${a.simMinutes} min of ` +
      `sim time, every series updated every ${a.stepSeconds} s; each series warmed with ${HISTORY} closed candles and primed ` +
      `(${a.prime.recomputed} recomputed) in ${fmt(a.fillSeconds + a.primeSeconds, 1)} s; frames decoded by a producer fiber into a ` +
      "bounded queue, read in chunks of up to 1,024"
  )
  console.log("")
  console.log("| figure | value | goal |")
  console.log("| --- | ---: | ---: |")
  console.log(`| wall time, decode + pipeline (Ingest, indicators, alerts), s | ${fmt(a.wallSeconds, 2)} | |`)
  console.log(`| **kline updates/s** (= frames/s) | **${fmt(a.updatesPerSecond, 0)}** | ≥ 50,000 |`)
  console.log(`| closed candles/s (MACD-V step, rules, indicator write + publish each) | ${fmt(a.closedPerSecond, 0)} | |`)
  console.log(`| batches the pipeline handled (mean candle updates each) | ${a.batches} (${fmt(a.meanBatch, 0)}) | |`)
  console.log(`| alerts fired (outbox stub) | ${a.alertsOffered} | |`)
  const c = a.perBatch
  console.log(
    `| per batch, ms: all / candle writes / close publications / indicator writes + publications / alert publications | ` +
      `${fmt(c.wall, 1)} / ${fmt(c.candleWrites, 1)} / ${fmt(c.closePublications, 1)} / ${fmt(c.indicatorWrites, 1)} + ` +
      `${fmt(c.indicatorPublications, 1)} / ${fmt(c.alertPublications, 1)} | |`
  )
  console.log(`| decode alone (\`frameFromText\`), µs/frame | ${fmt(a.decodeMicros, 1)} | |`)
  console.log(
    `| peer: decode + one \`CandleCache.upsert\` per frame, sequential (${fmt(a.peer.frames, 0)} frames), updates/s | ${fmt(a.peer.updatesPerSecond, 0)} | |`
  )
  console.log(`| **pipeline ÷ peer** | **${fmt(a.ratio, 2)}×** | |`)
  console.log("")
  const ms = (d: Distribution) => `${fmt(d.p50, 1)} / ${fmt(d.p90, 1)} / **${fmt(d.p99, 1)}** / ${fmt(d.max, 1)}`
  console.log(
    `B. Latency: simulator (worker thread) at ${b.speed}×, ${b.symbols} symbols, ${b.crashed.length} crashed by script 2 bars in; ` +
      "ExchangeRunner + Binance adapter over real sockets, clock " +
      `following the simulator; ${fmt(b.simMinutes, 0)} sim minutes in ${fmt(b.runSeconds, 1)} s`
  )
  console.log("")
  console.log("| figure | value | goal |")
  console.log("| --- | ---: | ---: |")
  console.log(`| node kept up (no connection dropped, backlog ≤ ${fmt(MAX_BACKLOG, 0)}) | ${b.keptUp ? "yes" : "**no**"} | yes |`)
  console.log(`| frames sent by the simulator / taken in by the pipeline, per s | ${fmt(b.sentPerSecond, 0)} / ${fmt(b.handledPerSecond, 0)} | |`)
  console.log(`| backlog at the end (messages) | ${fmt(b.backlog, 0)} | |`)
  console.log(`| pipeline candle writes (one per chunk) / candle updates per write | ${fmt(b.candleBatches, 0)} / ${fmt(b.candlesPerBatch, 2)} | |`)
  console.log(`| alert samples (\`onAlertLatency\`) | ${b.pipeline.count} | ≥ ${B_MIN_SAMPLES} |`)
  console.log(`| chunk arrival at the pipeline → PUBLISH, ms p50 / p90 / p99 / max | ${ms(b.pipeline)} | p99 < 20 |`)
  console.log(`| close time → alert received by a subscriber, ms p50 / p90 / p99 / max (${b.endToEnd.count}) | ${ms(b.endToEnd)} | |`)
  console.log(`| alerts by timeframe | ${counts(b.alertsByTimeframe, TIMEFRAMES)} | |`)
  console.log(`| alerts by rule | ${counts(b.alertsByRule, ["level", "reversal_oversold", "reversal_overbought"])} | |`)
  console.log(`| WebSocket connections opened / REST kline calls | ${b.wsConnectionsOpened} / ${b.restKlineCalls} | |`)
  console.log(`| start → active, → all streams subscribed, s | ${fmt(b.activeSeconds, 1)}, ${fmt(b.subscribedSeconds, 1)} | |`)
  console.log("")
  console.log(`Redis keys removed under the bench prefix: ${keysRemoved}; bench took ${fmt(totalSeconds, 1)} s`)

  const out = path.resolve(import.meta.dirname, "../../../bench-results")
  mkdirSync(out, { recursive: true })
  writeFileSync(
    path.join(out, "engine-pipeline.json"),
    `${JSON.stringify({ at: new Date().toISOString(), node: process.version, redis: version, throughput: a, latency: b }, null, 2)}\n`
  )
})

main.pipe(
  Effect.scoped,
  Effect.provide(Layer.mergeAll(Cache, NodeHttpClient.layerUndici)),
  Logger.withMinimumLogLevel(LogLevel.Error),
  NodeRuntime.runMain
)
