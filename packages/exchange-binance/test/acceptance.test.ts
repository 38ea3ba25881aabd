/**
 * Acceptance tests of the exchange issue for the Binance adapter, at full scale against the simulator over real
 * sockets: 50 symbols × 5 timeframes streamed live through a venue-wide drop, paginated history, and a warmup-sized
 * concurrent history load under the venue's weight budget.
 */
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { type Candle, Exchange, Market, Timeframe } from "@livermore/domain"
import { ExchangeAdapter, type MarketEvent } from "@livermore/exchange"
import { ExchangeSim, Intervals, Market as SimMarket, type Options as SimOptions } from "@livermore/exchange-sim"
import { Context, Effect, Either, Fiber, FiberRef, Layer, LogLevel, Option, Schedule, Schema, type Scope, Stream } from "effect"
import * as BinanceAdapter from "../src/BinanceAdapter.js"
import * as BinanceConfig from "../src/BinanceConfig.js"

const MINUTE = 60_000
const ALL: ReadonlyArray<Timeframe.Timeframe> = Timeframe.all

/** The limits of the `sim_binance` row of sql/0003 that a test may change. */
interface RowLimits {
  readonly restWeightPerMinute?: number
  readonly candlesPerRequest?: number
}

/** The `sim_binance` row of sql/0003, pointed at a running simulator. */
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
      restWeightPerMinute: limits.restWeightPerMinute ?? 6000,
      candlesPerRequest: limits.candlesPerRequest ?? 1000,
      wsMessagesPerSecond: 5,
      wsMaxStreamsPerConnection: 1024,
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
  limits: RowLimits = {},
  config: BinanceConfig.Options = {}
): Effect.Effect<{ readonly sim: ExchangeSim.SimHandle; readonly adapter: Adapter }, ExchangeSim.SimError, Scope.Scope> =>
  Effect.gen(function* () {
    yield* Effect.locallyScoped(FiberRef.currentMinimumLogLevel, LogLevel.Error)
    const sim = yield* ExchangeSim.make(options)
    const context = yield* Layer.build(
      BinanceAdapter.layer(simRow(sim, limits)).pipe(
        Layer.provide(FetchHttpClient.layer),
        Layer.provide(BinanceConfig.layer(config))
      )
    )
    return { sim, adapter: Context.get(context, ExchangeAdapter.ExchangeAdapter) }
  })

/**
 * Runs `stream` in the background, handing every event to `onEvent` as it arrives (nothing is kept unless the
 * callback keeps it). `until` polls a condition, failing with `what` on timeout or if the stream ended.
 */
const watch = (stream: Stream.Stream<MarketEvent.MarketEvent, unknown>, onEvent: (event: MarketEvent.MarketEvent) => void) =>
  Effect.gen(function* () {
    const fiber = yield* stream.pipe(
      Stream.runForEach((event) => Effect.sync(() => onEvent(event))),
      Effect.forkScoped
    )
    const until = (what: string, done: () => boolean, timeoutMs: number) =>
      Effect.gen(function* () {
        const exit = yield* Fiber.poll(fiber)
        if (Option.isSome(exit)) return yield* Effect.dieMessage(`stream ended while waiting for ${what}: ${String(exit.value)}`)
        return done()
      }).pipe(
        Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("50 millis") }),
        Effect.timeoutFail({ duration: timeoutMs, onTimeout: () => new Error(`timed out waiting for ${what}`) }),
        Effect.orDie,
        Effect.asVoid
      )
    return { until }
  })

/** Waits until the simulator's Binance connections carry `n` streams. */
const untilSubscribed = (sim: ExchangeSim.SimHandle, n: number) =>
  sim.stats.pipe(
    Effect.repeat({ until: (stats) => stats.binance.subscriptions === n, schedule: Schedule.spaced("20 millis") }),
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`timed out waiting for ${n} subscriptions`) }),
    Effect.orDie,
    Effect.asVoid
  )

const symbolIds = (sim: ExchangeSim.SimHandle): ReadonlyArray<Market.SymbolId> =>
  sim.market.symbols.map((s) => Schema.decodeSync(Market.SymbolId)(s.binance))

const intervalOf = (timeframe: Timeframe.Timeframe): Intervals.Interval => Intervals.binance.get(timeframe)!

/** The simulator's own closed candle of `symbol` on `timeframe` opening at `openTime`, as a domain candle. */
const simCandle = (sim: ExchangeSim.SimHandle, symbol: string, timeframe: Timeframe.Timeframe, openTime: number) => {
  const s = sim.market.bySymbol(symbol)!
  const bar = sim.market.candle(s, intervalOf(timeframe), openTime, sim.clock.now())
  assert.isDefined(bar, `${symbol} ${timeframe} ${openTime}: the simulator has no such candle`)
  return SimMarket.toCandle(s, bar!)
}

/** Asserts `actual` is exactly `expected` (cheap when they are equal, a full diff when not). */
const sameCandle = (actual: Candle.Candle, expected: Candle.Candle, label: string) => {
  const equal =
    actual.openTime === expected.openTime &&
    actual.open === expected.open &&
    actual.high === expected.high &&
    actual.low === expected.low &&
    actual.close === expected.close &&
    actual.volume === expected.volume &&
    actual.closed === expected.closed &&
    actual.synthetic === expected.synthetic
  if (!equal) assert.deepStrictEqual({ ...actual }, { ...expected }, label)
}

/** A closed candle seen on the stream, with when it arrived relative to the venue-wide drop. */
interface Closed {
  readonly symbol: Market.SymbolId
  readonly timeframe: Timeframe.Timeframe
  readonly candle: Candle.Candle
  readonly afterReconnect: boolean
}

const iso = (ms: number) => new Date(ms).toISOString()

/** A UTC midnight: every timeframe's candle closes there at once. */
const MIDNIGHT = Date.UTC(2024, 0, 11)

describe("acceptance: Binance adapter, 50 symbols × 5 timeframes against the simulator", () => {
  it.scopedLive(
    "streams closed candles for 50 symbols × 5 timeframes; after a venue-wide drop it resumes by itself, reports Reconnected, and closed candles keep coming",
    () =>
      Effect.gen(function* () {
        // 300× from 15 sim minutes before a UTC midnight: a 5m candle closes every real second, and 5m, 15m, 1h,
        // 4h and 1d all close together at midnight, 3 s after the start. The simulator starts paused and runs once
        // the adapter has subscribed, so a slow start-up cannot miss midnight.
        const speed = 300
        const { sim, adapter } = yield* setUp(
          { symbols: 50, seed: 21, speed: 0, startTime: MIDNIGHT - 15 * MINUTE },
          {},
          { backoff: { initial: "100 millis", max: "1 second" } }
        )
        const symbols = symbolIds(sim)
        assert.strictEqual(symbols.length, 50)
        const key = (symbol: string, timeframe: string) => `${symbol}/${timeframe}`

        const closed: Array<Closed> = []
        const closedKeys = new Set<string>()
        const closedAfter = new Set<string>()
        const reconnects: Array<Extract<MarketEvent.MarketEvent, { _tag: "Reconnected" }>> = []
        const gaps: Array<MarketEvent.MarketEvent> = []
        let forming = 0
        const { until } = yield* watch(adapter.stream({ symbols, timeframes: ALL, tickers: false }), (event) => {
          switch (event._tag) {
            case "Candle": {
              if (!event.candle.closed) {
                forming++
                return
              }
              const afterReconnect = reconnects.length > 0
              closed.push({ symbol: event.symbol, timeframe: event.timeframe, candle: event.candle, afterReconnect })
              closedKeys.add(key(event.symbol, event.timeframe))
              if (afterReconnect) closedAfter.add(event.symbol)
              return
            }
            case "Reconnected":
              reconnects.push(event)
              return
            case "Gap":
              gaps.push(event)
              return
            case "Ticker":
              return
          }
        })

        // All 250 kline streams subscribed: let the market run.
        yield* untilSubscribed(sim, 250)
        yield* sim.setClock({ speed })

        // 1. Every symbol × timeframe closes at least one candle (all five close at midnight).
        const startedAt = Date.now()
        const wanted = symbols.flatMap((s) => ALL.map((tf) => key(s, tf)))
        yield* until(
          "a closed candle of every symbol × timeframe",
          () => wanted.every((k) => closedKeys.has(k)),
          30_000
        )
        const allClosedAfterMs = Date.now() - startedAt
        assert.deepStrictEqual(reconnects, [], "no reconnect before the drop")
        for (const tf of ALL) {
          const atMidnight = closed.filter((c) => c.timeframe === tf && c.candle.openTime === MIDNIGHT - intervalOf(tf).ms)
          assert.strictEqual(new Set(atMidnight.map((c) => c.symbol)).size, 50, `${tf}: the candle closing at midnight, for all 50`)
        }

        // 2. The venue drops every connection; the adapter reconnects by itself and says so.
        const before = yield* sim.stats
        const droppedAt = Date.now()
        yield* sim.setFaults({ dropConnections: true })
        yield* until(
          "Reconnected naming all 50 symbols",
          () => new Set(reconnects.flatMap((r) => r.symbols)).size === 50,
          15_000
        )
        const reconnectedAfterMs = Date.now() - droppedAt
        for (const r of reconnects) {
          assert.isAtLeast(r.downSince, droppedAt - 1000)
          assert.isAtLeast(r.at, r.downSince)
        }
        assert.sameMembers([...new Set(reconnects.flatMap((r) => r.symbols))], [...symbols])

        // 3. Closed candles keep coming afterwards, for every symbol.
        yield* until("a closed candle of every symbol after the reconnect", () => closedAfter.size === 50, 15_000)
        const resumedAfterMs = Date.now() - droppedAt

        // Every closed candle, before and after the drop, is exactly the venue's candle for its open time, and
        // each (symbol, timeframe, open time) closed once.
        const seen = new Set<string>()
        for (const c of closed) {
          const label = `${c.symbol} ${c.timeframe} ${iso(c.candle.openTime)}`
          assert.isTrue(Timeframe.isAligned(c.timeframe, c.candle.openTime), label)
          assert.isFalse(seen.has(label), `${label} closed twice`)
          seen.add(label)
          sameCandle(c.candle, simCandle(sim, c.symbol, c.timeframe, c.candle.openTime), label)
        }
        const stats = yield* sim.stats
        assert.strictEqual(stats.droppedConnections - before.droppedConnections, 1)
        assert.strictEqual(stats.wsConnections, 1)
        assert.strictEqual(stats.binance.subscriptions, 250, "all 250 streams replayed on the new connection")
        assert.deepStrictEqual(stats.wsClosedByServer, {})
        assert.deepStrictEqual(gaps, [])
        assert.strictEqual(yield* adapter.malformedFrames, 0)
        console.info(
          `[acceptance binance stream] closed=${closed.length} (after reconnect ${closed.filter((c) => c.afterReconnect).length}) forming=${forming} ` +
            `allClosedAfter=${allClosedAfterMs}ms reconnectedAfter=${reconnectedAfterMs}ms resumedAfter=${resumedAfterMs}ms ` +
            `wsMessagesOut=${stats.wsMessagesOut}`
        )
      }),
    60_000
  )

  it.scopedLive(
    "history of 1,000 5m candles arrives complete, ordered and exact through pagination (pages of 300)",
    () =>
      Effect.gen(function* () {
        const { sim, adapter } = yield* setUp({ symbols: 3, seed: 22, speed: 1, startTime: Date.UTC(2024, 4, 14, 9, 41, 17) }, { candlesPerRequest: 300 })
        const symbol = symbolIds(sim)[0]!
        const step = Timeframe.durationMs["5m"]
        const last = Timeframe.lastClosedOpenTime("5m", yield* sim.now)
        const from = last - 999 * step
        // `to` reaches into the forming candle: it must not be returned.
        const candles = yield* adapter.history(symbol, "5m", { from, to: last + step })
        assert.deepStrictEqual(
          candles.map((c) => c.openTime),
          Array.from({ length: 1000 }, (_, i) => from + i * step)
        )
        for (const c of candles) {
          assert.isTrue(c.closed)
          sameCandle(c, simCandle(sim, symbol, "5m", c.openTime), `${symbol} 5m ${iso(c.openTime)}`)
        }
        // 300 + 300 + 300 + 100: four pages.
        assert.strictEqual((yield* sim.stats).rest["GET /api/v3/klines"], 4)
      }),
    60_000
  )

  it.scopedLive(
    "a warmup-sized load — history of 50 symbols × 5 timeframes at once — stays within the weight budget: no 418, at most a handful of 429s",
    () =>
      Effect.gen(function* () {
        // The venue allows 1,200 weight per minute (a fifth of binance.com's) and the row says so; 250-candle
        // pages make the load ~1,600 weight, so the budget binds and the governor must hold requests back for
        // the window to roll.
        const budget = 1200
        const { sim, adapter } = yield* setUp(
          { symbols: 50, seed: 23, speed: 1, startTime: Date.UTC(2024, 4, 14, 9, 41, 17), binance: { weightPerMinute: budget } },
          { restWeightPerMinute: budget, candlesPerRequest: 250 }
        )
        const counts: Record<Timeframe.Timeframe, number> = { "5m": 1000, "15m": 1000, "1h": 1000, "4h": 500, "1d": 300 }
        const now = yield* sim.now
        const pairs = symbolIds(sim).flatMap((symbol) =>
          ALL.map((timeframe) => {
            const to = Timeframe.lastClosedOpenTime(timeframe, now)
            return { symbol, timeframe, from: to - (counts[timeframe] - 1) * Timeframe.durationMs[timeframe], to }
          })
        )
        const pages = pairs.reduce((n, p) => n + Math.ceil(counts[p.timeframe] / 250), 0)
        assert.isAbove(pages * 2, budget, "the load exceeds one minute's budget")

        /** Every history complete: exactly the expected open times, oldest first, each the venue's candle. */
        const check = (pair: (typeof pairs)[number], candles: ReadonlyArray<Candle.Candle>) => {
          const step = Timeframe.durationMs[pair.timeframe]
          const label = `${pair.symbol} ${pair.timeframe}`
          assert.strictEqual(candles.length, counts[pair.timeframe], label)
          candles.forEach((c, j) => {
            assert.strictEqual(c.openTime, pair.from + j * step, label)
            sameCandle(c, simCandle(sim, pair.symbol, pair.timeframe, c.openTime), `${label} ${iso(c.openTime)}`)
          })
        }

        const startedAt = Date.now()
        const results = yield* Effect.forEach(
          pairs,
          (pair) => Effect.either(adapter.history(pair.symbol, pair.timeframe, { from: pair.from, to: pair.to })),
          { concurrency: "unbounded" }
        )
        const wallMs = Date.now() - startedAt
        const stats = yield* sim.stats
        const governor = yield* adapter.restStats
        const sent = Object.values(stats.rest).reduce((sum, n) => sum + n, 0)
        const failed = results.flatMap((r, i) => (Either.isLeft(r) ? [`${pairs[i]!.symbol} ${pairs[i]!.timeframe}: ${r.left.message}`] : []))
        const figures = `${sent} requests, ${stats.rateLimited} × 429, ${stats.banned} × 418 in ${wallMs} ms`

        assert.deepStrictEqual(failed, [], `every history call succeeds (${figures})`)
        assert.strictEqual(stats.banned, 0, `no 418 (${figures})`)
        assert.strictEqual(governor.banned, 0)
        assert.isAtMost(stats.rateLimited, 3, `at most a handful of 429s (${figures})`)
        assert.strictEqual(governor.rateLimited, stats.rateLimited)
        // Each page once, plus the clock sync and one resend per 429: no request storm.
        assert.strictEqual(stats.rest["GET /api/v3/klines"], pages + stats.rateLimited)
        assert.strictEqual(sent, pages + 1 + stats.rateLimited)
        // The budget bound: more than a minute's weight cannot go out within the first minute.
        assert.isAtLeast(wallMs, 59_000)
        // Checked after the load, so the checking takes no time from it.
        results.forEach((r, i) => {
          check(pairs[i]!, Either.getOrThrow(r))
        })

        console.info(
          `[acceptance binance warmup] histories=${pairs.length} requests=${sent} (klines pages ${pages}) 429=${stats.rateLimited} 418=${stats.banned} ` +
            `wall=${wallMs}ms weightBudget=${budget}/min`
        )
      }),
    150_000
  )
})
