/**
 * Contract tests of the Binance adapter against the protocol-faithful simulator, over real sockets: live candles
 * and tickers, paginated history, reconnects, malformed frames and REST back-off.
 */
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Exchange, Market, type Timeframe } from "@livermore/domain"
import { ExchangeAdapter, type MarketEvent } from "@livermore/exchange"
import { ExchangeSim, Intervals, Market as SimMarket, type Options as SimOptions } from "@livermore/exchange-sim"
import { Context, type Duration, Effect, FiberRef, Layer, LogLevel, Option, Queue, Schedule, Schema, type Scope, Stream } from "effect"
import * as BinanceAdapter from "../src/BinanceAdapter.js"
import * as BinanceConfig from "../src/BinanceConfig.js"

const MINUTE = 60_000
const FIVE_MINUTES = 5 * MINUTE
const ALL: ReadonlyArray<Timeframe.Timeframe> = ["5m", "15m", "1h", "4h", "1d"]

/** The `sim_binance` row of sql/0003, pointed at a running simulator. */
interface RowLimits {
  readonly candlesPerRequest?: number
  readonly wsMaxStreamsPerConnection?: number
}

const simRow = (sim: ExchangeSim.SimHandle, limits: RowLimits = {}) =>
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
      candlesPerRequest: limits.candlesPerRequest ?? 1000,
      wsMessagesPerSecond: 5,
      wsMaxStreamsPerConnection: limits.wsMaxStreamsPerConnection ?? 1024,
      wsMaxConnectionHours: Option.some(24)
    }),
    fees: Exchange.Fees.make({ maker: 0.001, taker: 0.001 }),
    geoRestrictions: [],
    isActive: true
  })

type Adapter = Context.Tag.Service<ExchangeAdapter.ExchangeAdapter>

/** A simulator and an adapter on it, both living as long as the test's scope. Logs below Error are muted. */
const setUp = (
  options: SimOptions.SimOptionsInput,
  rowLimits: RowLimits = {},
  config: BinanceConfig.Options = {}
): Effect.Effect<{ readonly sim: ExchangeSim.SimHandle; readonly adapter: Adapter }, ExchangeSim.SimError, Scope.Scope> =>
  Effect.gen(function* () {
    // The adapter's fibers inherit this, and the tests provoke the warnings on purpose.
    yield* Effect.locallyScoped(FiberRef.currentMinimumLogLevel, LogLevel.Error)
    const sim = yield* ExchangeSim.make(options)
    const context = yield* Layer.build(
      BinanceAdapter.layer(simRow(sim, rowLimits)).pipe(
        Layer.provide(FetchHttpClient.layer),
        Layer.provide(BinanceConfig.layer({ backoff: { initial: "100 millis", max: "2 seconds" }, ...config }))
      )
    )
    return { sim, adapter: Context.get(context, ExchangeAdapter.ExchangeAdapter) }
  })

/** Runs the adapter's stream in the background into a queue the test reads from. */
const subscribe = (adapter: Adapter, subscription: ExchangeAdapter.Subscription) =>
  Effect.gen(function* () {
    const queue = yield* Queue.unbounded<MarketEvent.MarketEvent>()
    yield* adapter.stream(subscription).pipe(
      Stream.runForEach((event) => Queue.offer(queue, event)),
      Effect.forkScoped
    )
    return queue
  })

/** Reads events, folding them into `state`, until `done` holds; fails naming `what` after `timeout`. */
const readUntil = <S>(
  queue: Queue.Dequeue<MarketEvent.MarketEvent>,
  what: string,
  timeout: Duration.DurationInput,
  initial: S,
  step: (state: S, event: MarketEvent.MarketEvent) => S,
  done: (state: S) => boolean
): Effect.Effect<S, Error> =>
  Effect.gen(function* () {
    let state = initial
    while (!done(state)) state = step(state, yield* Queue.take(queue))
    return state
  }).pipe(
    Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error(`timed out waiting for ${what}`) })
  )

const countCandles = (seen: number, event: MarketEvent.MarketEvent): number => (event._tag === "Candle" ? seen + 1 : seen)

const symbolIds = (sim: ExchangeSim.SimHandle, n: number): ReadonlyArray<Market.SymbolId> =>
  sim.market.symbols.slice(0, n).map((s) => Schema.decodeSync(Market.SymbolId)(s.binance))

/** Midnight UTC that closes a candle on every timeframe at once. */
const MIDNIGHT = Date.UTC(2024, 0, 11)

describe("BinanceAdapter against the simulator", () => {
  it.scopedLive(
    "streams forming and closed candles for several symbols × all five timeframes, plus tickers",
    () =>
      Effect.gen(function* () {
        // Six seconds before a UTC midnight: every timeframe's candle closes while the test watches.
        const { sim, adapter } = yield* setUp({ symbols: 4, startTime: MIDNIGHT - 6000 })
        const symbols = symbolIds(sim, 3)
        const queue = yield* subscribe(adapter, { symbols, timeframes: ALL, tickers: true })
        const key = (symbol: string, timeframe: string) => `${symbol}/${timeframe}`
        const wanted = symbols.flatMap((s) => ALL.map((tf) => key(s, tf)))
        type Seen = { forming: Set<string>; closed: Map<string, MarketEvent.MarketEvent>; tickers: Set<string> }
        const seen = yield* readUntil<Seen>(
          queue,
          "a forming and a closed candle of every pair and a ticker of every symbol",
          "30 seconds",
          { forming: new Set(), closed: new Map(), tickers: new Set() },
          (state, event) => {
            if (event._tag === "Candle") {
              const k = key(event.symbol, event.timeframe)
              if (event.candle.closed) state.closed.set(k, event)
              else state.forming.add(k)
            }
            if (event._tag === "Ticker") {
              assert.isDefined(event.ticker.bestBid)
              assert.isDefined(event.ticker.bestAsk)
              state.tickers.add(event.ticker.symbol)
            }
            return state
          },
          (state) =>
            wanted.every((k) => state.forming.has(k) && state.closed.has(k)) && symbols.every((s) => state.tickers.has(s))
        )
        // Each closed candle is the one ending at midnight, exactly as the venue computes it.
        const now = yield* sim.now
        for (const symbol of symbols) {
          const simSymbol = sim.market.bySymbol(symbol)!
          for (const timeframe of ALL) {
            const event = seen.closed.get(key(symbol, timeframe))
            assert.isTrue(event?._tag === "Candle")
            if (event?._tag !== "Candle") continue
            const interval = Intervals.binance.get(timeframe)!
            const openTime = MIDNIGHT - interval.ms
            assert.strictEqual(event.candle.openTime, openTime, key(symbol, timeframe))
            const expected = SimMarket.toCandle(simSymbol, sim.market.candle(simSymbol, interval, openTime, now)!)
            assert.deepStrictEqual({ ...event.candle }, { ...expected })
          }
        }
        assert.strictEqual(yield* adapter.malformedFrames, 0)
      }),
    60_000
  )

  it.scopedLive(
    "more streams than one connection may carry are spread over several connections and merged",
    () =>
      Effect.gen(function* () {
        // A venue allowing 10 streams per connection (it closes any connection above that): each symbol's 6
        // streams stay together, so 4 symbols take 4 connections.
        const { sim, adapter } = yield* setUp({ symbols: 5, binance: { maxStreams: 10 } }, { wsMaxStreamsPerConnection: 10 })
        const symbols = symbolIds(sim, 4)
        const queue = yield* subscribe(adapter, { symbols, timeframes: ALL, tickers: true })
        yield* readUntil<Set<string>>(
          queue,
          "candles and tickers of every symbol",
          "20 seconds",
          new Set(),
          (seen, event) => {
            if (event._tag === "Candle") seen.add(`${event.symbol}/${event.timeframe}`)
            if (event._tag === "Ticker") seen.add(`${event.ticker.symbol}/ticker`)
            return seen
          },
          (seen) => seen.size === symbols.length * 6
        )
        const stats = yield* sim.stats
        assert.strictEqual(stats.binance.connections, 4)
        assert.strictEqual(stats.binance.subscriptions, 24)
        assert.deepStrictEqual(stats.wsClosedByServer, {})
      }),
    60_000
  )

  it.scopedLive(
    "history returns 1,000 closed 5m candles, complete and in order, one page or four",
    () =>
      Effect.gen(function* () {
        const { sim, adapter } = yield* setUp({ symbols: 3 })
        const { adapter: paged } = yield* Effect.gen(function* () {
          const context = yield* Layer.build(
            BinanceAdapter.layer(simRow(sim, { candlesPerRequest: 250 })).pipe(Layer.provide(FetchHttpClient.layer))
          )
          return { adapter: Context.get(context, ExchangeAdapter.ExchangeAdapter) }
        })
        const [symbol] = symbolIds(sim, 1)
        const now = yield* sim.now
        const last = Math.floor(now / FIVE_MINUTES) * FIVE_MINUTES - FIVE_MINUTES
        const range = { from: last - 999 * FIVE_MINUTES, to: now }
        const check = (candles: ReadonlyArray<{ readonly openTime: number; readonly closed: boolean }>) => {
          assert.strictEqual(candles.length, 1000)
          assert.strictEqual(candles[0]?.openTime, range.from)
          assert.strictEqual(candles[999]?.openTime, last)
          for (let i = 1; i < candles.length; i++) {
            assert.strictEqual(candles[i]!.openTime - candles[i - 1]!.openTime, FIVE_MINUTES)
          }
          assert.isTrue(candles.every((c) => c.closed))
        }

        yield* sim.reset
        check(yield* adapter.history(symbol!, "5m", range))
        assert.strictEqual((yield* sim.stats).rest["GET /api/v3/klines"], 1)

        yield* sim.reset
        const pagedCandles = yield* paged.history(symbol!, "5m", range)
        check(pagedCandles)
        assert.strictEqual((yield* sim.stats).rest["GET /api/v3/klines"], 4)

        // The same values as the venue's own computation.
        const simSymbol = sim.market.bySymbol(symbol!)!
        const interval = Intervals.binance.get("5m")!
        for (const candle of [pagedCandles[0]!, pagedCandles[500]!, pagedCandles[999]!]) {
          const expected = SimMarket.toCandle(simSymbol, sim.market.candle(simSymbol, interval, candle.openTime, now)!)
          assert.deepStrictEqual({ ...candle }, { ...expected })
        }
      }),
    60_000
  )

  it.scopedLive(
    "products and 24 h volumes come from the venue's lists",
    () =>
      Effect.gen(function* () {
        const { sim, adapter } = yield* setUp({ symbols: 5 })
        const products = yield* adapter.products
        assert.deepStrictEqual(
          products.map((p) => [p.symbol, p.baseAsset, p.quoteAsset]),
          sim.market.symbols.map((s) => [s.binance, s.base, s.binanceQuote])
        )
        const volumes = yield* adapter.volumes24h
        assert.deepStrictEqual(
          volumes.map((v) => v.symbol),
          products.map((p) => p.symbol)
        )
        assert.isTrue(volumes.every((v) => v.quoteVolume >= 0 && v.volume >= 0))
      }),
    60_000
  )

  it.scopedLive(
    "after the venue drops every connection the stream resumes by itself and reports Reconnected",
    () =>
      Effect.gen(function* () {
        const { sim, adapter } = yield* setUp({ symbols: 3 })
        const symbols = symbolIds(sim, 2)
        const queue = yield* subscribe(adapter, { symbols, timeframes: ["5m", "1h"], tickers: false })
        yield* readUntil(queue, "first candles", "15 seconds", 0, countCandles, (n) => n >= 4)
        const before = (yield* sim.stats).wsConnectionsTotal
        const droppedAt = Date.now()
        yield* sim.setFaults({ dropConnections: true })
        const reconnected = yield* readUntil<Option.Option<MarketEvent.MarketEvent>>(
          queue,
          "Reconnected",
          "15 seconds",
          Option.none(),
          (state, event) => (event._tag === "Reconnected" ? Option.some(event) : state),
          Option.isSome
        )
        const event = Option.getOrThrow(reconnected)
        assert.isTrue(event._tag === "Reconnected")
        if (event._tag === "Reconnected") {
          assert.deepStrictEqual([...event.symbols].sort(), [...symbols].sort())
          assert.isAtLeast(event.downSince, droppedAt - 1000)
          assert.isAtLeast(event.at, event.downSince)
        }
        yield* readUntil(queue, "candles after the reconnect", "15 seconds", 0, countCandles, (n) => n >= 4)
        const stats = yield* sim.stats
        assert.strictEqual(stats.droppedConnections, 1)
        assert.strictEqual(stats.wsConnectionsTotal, before + 1)
        assert.strictEqual(stats.binance.subscriptions, 4, "subscriptions replayed on the new connection")
      }),
    60_000
  )

  it.scopedLive(
    "on serverShutdown the stream moves to a new connection at once and reports the outage",
    () =>
      Effect.gen(function* () {
        const { sim, adapter } = yield* setUp({ symbols: 2, binance: { shutdownNoticeMs: 20_000 } })
        const symbols = symbolIds(sim, 1)
        const queue = yield* subscribe(adapter, { symbols, timeframes: ["5m"], tickers: true })
        yield* readUntil(queue, "first candle", "15 seconds", 0, countCandles, (n) => n >= 1)
        const noticeAt = Date.now()
        yield* sim.setFaults({ serverShutdown: true })
        const event = yield* readUntil<Option.Option<MarketEvent.MarketEvent>>(
          queue,
          "Reconnected after serverShutdown",
          "10 seconds",
          Option.none(),
          (state, e) => (e._tag === "Reconnected" ? Option.some(e) : state),
          Option.isSome
        ).pipe(Effect.map(Option.getOrThrow))
        // Well inside the 20 s notice: the adapter did not wait for the server to close on it.
        assert.isBelow(Date.now() - noticeAt, 5000)
        assert.isTrue(event._tag === "Reconnected" && event.downSince >= noticeAt - 1000)
        yield* readUntil(queue, "candles on the new connection", "15 seconds", 0, countCandles, (n) => n >= 2)
        assert.strictEqual((yield* sim.stats).wsConnections, 1, "the old connection was closed by the client")
      }),
    60_000
  )

  it.scopedLive(
    "malformed frames are skipped and counted, and the stream goes on",
    () =>
      Effect.gen(function* () {
        const { sim, adapter } = yield* setUp({ symbols: 3 })
        const symbols = symbolIds(sim, 3)
        const queue = yield* subscribe(adapter, { symbols, timeframes: ALL, tickers: true })
        yield* readUntil(queue, "first candles", "15 seconds", 0, countCandles, (n) => n >= 5)
        yield* sim.setFaults({ malformedFrames: 0.3 })
        yield* readUntil(queue, "candles among malformed frames", "20 seconds", 0, countCandles, (n) => n >= 30)
        yield* sim.setFaults({ malformedFrames: 0 })
        const sent = (yield* sim.stats).malformedFramesSent
        assert.isAbove(sent, 0)
        // Garbage frames still in flight when the fault was lifted arrive shortly.
        yield* adapter.malformedFrames.pipe(
          Effect.repeat({ until: (n) => n >= sent, schedule: Schedule.spaced("50 millis") }),
          Effect.timeout("5 seconds"),
          Effect.ignore
        )
        assert.strictEqual(yield* adapter.malformedFrames, sent)
        yield* readUntil(queue, "candles afterwards", "15 seconds", 0, countCandles, (n) => n >= 5)
        assert.strictEqual((yield* sim.stats).wsConnectionsTotal, 1, "no reconnect over bad frames")
      }),
    60_000
  )

  it.scopedLive(
    "a 429 pauses every request for Retry-After: no request storm and no 418",
    () =>
      Effect.gen(function* () {
        // The venue allows 20 weight per 2 s while the row claims 6000/min: the governor learns from 429s.
        const { sim, adapter } = yield* setUp(
          { symbols: 3, binance: { weightPerMinute: 20, weightWindowMs: 2000 } },
          {},
          { maxRetries: 10 }
        )
        const [symbol] = symbolIds(sim, 1)
        const base = Math.floor((yield* sim.now) / FIVE_MINUTES) * FIVE_MINUTES
        const requests = 30
        // Thirty one-hour ranges (12 candles each), all at once.
        const results = yield* Effect.forEach(
          Array.from({ length: requests }, (_, i) => base - (i + 20) * 60 * MINUTE),
          (from) => adapter.history(symbol!, "5m", { from, to: from + 55 * MINUTE }),
          { concurrency: "unbounded" }
        )
        assert.isTrue(results.every((candles) => candles.length === 12))
        const stats = yield* sim.stats
        const governor = yield* adapter.restStats
        assert.strictEqual(stats.banned, 0)
        assert.strictEqual(governor.banned, 0)
        assert.isAbove(stats.rateLimited, 0, "the venue did push back")
        assert.strictEqual(governor.rateLimited, stats.rateLimited)
        // No storm: apart from the clock sync, the venue saw each request once plus one resend per 429.
        const sent = Object.values(stats.rest).reduce((sum, n) => sum + n, 0)
        assert.strictEqual(sent, requests + 1 + stats.rateLimited)
        assert.isAtMost(stats.rateLimited, requests)
      }),
    120_000
  )
})
