/**
 * Contract tests of the Coinbase adapter against `exchange-sim` over real sockets: a simulator per test on a
 * free port, an exchange row pointing at it, the adapter on undici.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { type Candle, Timeframe } from "@livermore/domain"
import { ExchangeAdapter, type MarketEvent } from "@livermore/exchange"
import { ExchangeSim, Intervals, Market as SimMarket } from "@livermore/exchange-sim"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Fiber, Layer, Option, Schedule, Stream } from "effect"
import * as CoinbaseAdapter from "../src/CoinbaseAdapter.js"
import type * as CoinbaseConfig from "../src/CoinbaseConfig.js"
import { coinbaseRow, sym } from "./support.js"

type Limits = Parameters<typeof coinbaseRow>[1]

const start = (options: Parameters<typeof ExchangeSim.make>[0]) => ExchangeSim.make({ port: 0, ...options })

const adapterOn = (sim: ExchangeSim.SimHandle, options: CoinbaseConfig.Options = {}, limits: Limits = {}) =>
  Effect.gen(function* () {
    const row = coinbaseRow({ wsUrl: sim.wsUrl, restUrl: sim.url }, limits)
    const context = yield* Layer.build(CoinbaseAdapter.layer(row, options).pipe(Layer.provide(NodeHttpClient.layerUndici)))
    return Context.get(context, ExchangeAdapter.ExchangeAdapter)
  })

/** Run `stream` in the background, collecting its events. */
const collect = (stream: Stream.Stream<MarketEvent.MarketEvent, unknown>) =>
  Effect.gen(function* () {
    const events: Array<MarketEvent.MarketEvent> = []
    const fiber = yield* stream.pipe(
      Stream.runForEach((event) => Effect.sync(() => events.push(event))),
      Effect.forkScoped
    )
    const until = (what: string, done: () => boolean, timeout: number) =>
      Effect.gen(function* () {
        const exit = yield* Fiber.poll(fiber)
        if (Option.isSome(exit)) return yield* Effect.dieMessage(`stream ended while waiting for ${what}: ${String(exit.value)}`)
        return done()
      }).pipe(
        Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("50 millis") }),
        Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error(`timed out waiting for ${what}`) }),
        Effect.orDie
      )
    return { events, until }
  })

type CandleEvent = Extract<MarketEvent.MarketEvent, { _tag: "Candle" }>
const candleEvents = (events: ReadonlyArray<MarketEvent.MarketEvent>) =>
  events.filter((e): e is CandleEvent => e._tag === "Candle")

const intervalOf: Record<Timeframe.Timeframe, Intervals.Interval> = {
  "5m": Intervals.coinbase.get("FIVE_MINUTE")!,
  "15m": Intervals.coinbase.get("FIFTEEN_MINUTE")!,
  "1h": Intervals.coinbase.get("ONE_HOUR")!,
  "4h": Intervals.coinbase.get("FOUR_HOUR")!,
  "1d": Intervals.coinbase.get("ONE_DAY")!
}

/** The simulator's own candle (trades only, as Coinbase) for comparison. */
const expected = (sim: ExchangeSim.SimHandle, product: string, timeframe: Timeframe.Timeframe, openTime: number) => {
  const s = sim.market.byProduct(product)!
  const bar = sim.market.candle(s, intervalOf[timeframe], openTime, sim.clock.now())!
  return SimMarket.toCandle(s, bar)
}

const assertSameCandle = (actual: Candle.Candle, wanted: Candle.Candle, label: string) => {
  assert.strictEqual(actual.openTime, wanted.openTime, `${label} openTime`)
  for (const field of ["open", "high", "low", "close"] as const) {
    assert.closeTo(actual[field], wanted[field], 1e-9 * Math.max(1, Math.abs(wanted[field])), `${label} ${field}`)
  }
  assert.closeTo(actual.volume, wanted.volume, 1e-6 * Math.max(1, wanted.volume), `${label} volume`)
}

const candlesKey = "GET /api/v3/brokerage/market/products/{product_id}/candles"

describe("CoinbaseAdapter against exchange-sim: live stream", () => {
  it.scopedLive(
    "forming and closed 5m candles, and 15m/1h/4h/1d built from closed 5m, for several symbols",
    () =>
      Effect.gen(function* () {
        // 2400× sim time from ten minutes before a UTC midnight: a 5m bucket lasts 125 ms, four hours 6 s.
        const midnight = Timeframe.nextBoundary("1d", Date.now())
        const sim = yield* start({ symbols: 10, seed: 3, speed: 2400, startTime: midnight - 10 * 60_000 })
        // The close timer waits 30 sim minutes (750 ms) for a bucket's last update, as acceptance.test.ts does: with
        // 5 (125 ms), an event loop stalled that long by other work on the machine closes a 5m candle before its
        // final update is handled, and the candles built from it differ from the venue's.
        const adapter = yield* adapterOn(sim, { closeGrace: "30 minutes" })
        const liquid = sim.market.symbols.filter((s) => !s.illiquid).slice(0, 3).map((s) => s.coinbase)
        const illiquid = sim.market.symbols.filter((s) => s.illiquid).map((s) => s.coinbase)[0]!
        const symbols = [...liquid, illiquid].map(sym)
        const { events, until } = yield* collect(
          adapter.stream({ symbols, timeframes: ["5m", "15m", "1h", "4h", "1d"], tickers: true })
        )
        const has = (symbol: string, timeframe: Timeframe.Timeframe, closed: boolean) =>
          candleEvents(events).some((e) => e.symbol === symbol && e.timeframe === timeframe && e.candle.closed === closed)
        yield* until(
          "closed 5m, 15m, 1h and 4h candles and a forming 1d candle of every liquid symbol",
          () =>
            liquid.every(
              (s) =>
                has(s, "5m", false) && has(s, "5m", true) && has(s, "15m", true) && has(s, "1h", true) && has(s, "4h", true) && has(s, "1d", false)
            ),
          30_000
        )
        assert.isTrue(events.some((e) => e._tag === "Ticker"), "tickers")

        const closed = candleEvents(events).filter((e) => e.candle.closed)
        const keys = closed.map((e) => `${e.symbol}|${e.timeframe}|${e.candle.openTime}`)
        assert.strictEqual(new Set(keys).size, keys.length, "each bucket closes once")
        for (const e of closed) {
          assertSameCandle(e.candle, expected(sim, e.symbol, e.timeframe, e.candle.openTime), `${e.symbol} ${e.timeframe} ${e.candle.openTime}`)
          assert.isTrue(Timeframe.isAligned(e.timeframe, e.candle.openTime))
          assert.isFalse(e.candle.synthetic)
        }
        // The buckets that began before the subscription are never passed off as complete.
        const subscribedAt = midnight - 10 * 60_000
        assert.isFalse(closed.some((e) => e.timeframe !== "5m" && e.candle.openTime < subscribedAt))
        assert.isFalse(candleEvents(events).some((e) => e.timeframe !== "5m" && e.candle.openTime < subscribedAt))
        for (const symbol of symbols) {
          const times = closed.filter((e) => e.symbol === symbol && e.timeframe === "5m").map((e) => e.candle.openTime)
          assert.deepStrictEqual(times, [...times].sort((a, b) => a - b), `${symbol} closed 5m in order`)
        }
        assert.strictEqual(yield* adapter.malformedFrames, 0)
        assert.isFalse(events.some((e) => e._tag === "Gap" || e._tag === "Reconnected"))
      }),
    60_000
  )

  it.scopedLive(
    "after the simulator drops every connection, the stream resumes by itself and emits Reconnected",
    () =>
      Effect.gen(function* () {
        const sim = yield* start({ symbols: 5, seed: 5, speed: 60 })
        const adapter = yield* adapterOn(sim, { reconnectInitial: "50 millis", reconnectMax: "200 millis" })
        const symbols = sim.market.symbols.slice(0, 2).map((s) => sym(s.coinbase))
        const { events, until } = yield* collect(adapter.stream({ symbols, timeframes: ["5m"], tickers: false }))
        yield* until("a first candle", () => candleEvents(events).length > 0, 10_000)
        yield* sim.setFaults({ dropConnections: true })
        yield* until("Reconnected", () => events.some((e) => e._tag === "Reconnected"), 10_000)
        const index = events.findIndex((e) => e._tag === "Reconnected")
        const reconnected = events[index]!
        assert.isTrue(reconnected._tag === "Reconnected")
        if (reconnected._tag !== "Reconnected") return
        assert.deepStrictEqual([...reconnected.symbols].sort(), [...symbols].sort())
        assert.isAtMost(reconnected.downSince, reconnected.at)
        yield* until("candles after the reconnect", () => candleEvents(events.slice(index + 1)).length > 0, 10_000)
        const stats = yield* sim.stats
        assert.isAtLeast(stats.droppedConnections, 1)
        assert.isAtLeast(stats.wsConnectionsTotal, 2)
        assert.strictEqual(stats.coinbase.connections, 1)
      }),
    30_000
  )

  it.scopedLive(
    "malformed frames are skipped and counted, exactly as many as the simulator sent, and never fatal",
    () =>
      Effect.gen(function* () {
        const sim = yield* start({ symbols: 5, seed: 9, speed: 60 })
        yield* sim.setFaults({ malformedFrames: 0.3 })
        const adapter = yield* adapterOn(sim)
        const symbols = sim.market.symbols.slice(0, 3).map((s) => sym(s.coinbase))
        const { events, until } = yield* collect(adapter.stream({ symbols, timeframes: ["5m"], tickers: true }))
        yield* until("some malformed frames", () => Effect.runSync(adapter.malformedFrames) >= 5, 15_000)
        yield* sim.setFaults({ malformedFrames: 0 })
        const sent = (yield* sim.stats).malformedFramesSent
        yield* until("every garbage frame counted", () => Effect.runSync(adapter.malformedFrames) === sent, 5_000)
        const before = events.length
        yield* until("events still flowing", () => events.length > before + 3, 10_000)
        assert.isFalse(events.some((e) => e._tag === "Reconnected" || e._tag === "Gap"))
        assert.isTrue(candleEvents(events).length > 0)
      }),
    30_000
  )
})

describe("CoinbaseAdapter against exchange-sim: REST", () => {
  it.scopedLive(
    "1,000 5m candles of a liquid symbol: complete, ordered, exact, in three pages of ≤ 350",
    () =>
      Effect.gen(function* () {
        const sim = yield* start({ symbols: 5, seed: 11 })
        const adapter = yield* adapterOn(sim)
        const product = sim.market.symbols.find((s) => !s.illiquid)!.coinbase
        const to = Timeframe.lastClosedOpenTime("5m", Date.now()) - Timeframe.durationMs["5m"]
        const from = to - 999 * Timeframe.durationMs["5m"]
        const candles = yield* adapter.history(sym(product), "5m", { from, to })
        assert.strictEqual(candles.length, 1000)
        assert.strictEqual(candles[0]!.openTime, from)
        assert.strictEqual(candles[999]!.openTime, to)
        candles.forEach((c, i) => {
          assert.strictEqual(c.openTime, from + i * Timeframe.durationMs["5m"])
          assert.isTrue(c.closed)
          assertSameCandle(c, expected(sim, product, "5m", c.openTime), `#${i}`)
        })
        assert.strictEqual((yield* sim.stats).rest[candlesKey], 3)
        assert.strictEqual((yield* adapter.restStats).requests, 3)
      }),
    30_000
  )

  it.scopedLive(
    "an illiquid symbol's history leaves out exactly the buckets in which nothing traded",
    () =>
      Effect.gen(function* () {
        const sim = yield* start({ symbols: 5, seed: 11 })
        const adapter = yield* adapterOn(sim)
        const s = sim.market.symbols.find((x) => x.illiquid)!
        const to = Timeframe.lastClosedOpenTime("5m", Date.now()) - Timeframe.durationMs["5m"]
        const from = to - 399 * Timeframe.durationMs["5m"]
        const candles = yield* adapter.history(sym(s.coinbase), "5m", { from, to })
        const traded = Timeframe.openTimesBetween("5m", from, to).filter(
          (t) => sim.market.candle(s, intervalOf["5m"], t, sim.clock.now())!.trades > 0
        )
        assert.isBelow(traded.length, 400)
        assert.deepStrictEqual(
          candles.map((c) => c.openTime),
          traded
        )
      }),
    30_000
  )

  it.scopedLive(
    "15m, 1h and 1d come natively; 4h is built from 1h and equals the venue's own 4h candles",
    () =>
      Effect.gen(function* () {
        const sim = yield* start({ symbols: 10, seed: 13 })
        const adapter = yield* adapterOn(sim)
        const products = [sim.market.symbols[0]!.coinbase, sim.market.symbols[9]!.coinbase]
        const now = Date.now()
        for (const product of products) {
          for (const timeframe of ["15m", "1h", "4h", "1d"] as const) {
            const to = Timeframe.lastClosedOpenTime(timeframe, now)
            const from = to - 20 * Timeframe.durationMs[timeframe]
            const candles = yield* adapter.history(sym(product), timeframe, { from, to })
            assert.isAtLeast(candles.length, timeframe === "1d" || product === products[0] ? 21 : 1)
            for (const c of candles) {
              assertSameCandle(c, expected(sim, product, timeframe, c.openTime), `${product} ${timeframe} ${c.openTime}`)
            }
          }
        }
      }),
    30_000
  )

  it.scopedLive(
    "the still-forming candle is never returned",
    () =>
      Effect.gen(function* () {
        const sim = yield* start({ symbols: 3, seed: 2 })
        const adapter = yield* adapterOn(sim)
        const now = Date.now()
        const candles = yield* adapter.history(sym(sim.market.symbols[0]!.coinbase), "1h", {
          from: now - 6 * 3_600_000,
          to: now + 3_600_000
        })
        assert.isTrue(candles.every((c) => c.closed && c.openTime + 3_600_000 <= now))
        assert.strictEqual(candles.at(-1)!.openTime, Timeframe.lastClosedOpenTime("1h", now))
      }),
    30_000
  )

  it.scopedLive(
    "products and 24 h volumes come from the product list",
    () =>
      Effect.gen(function* () {
        const sim = yield* start({ symbols: 12, seed: 4 })
        const adapter = yield* adapterOn(sim)
        const products = yield* adapter.products
        assert.deepStrictEqual(
          products.map((p) => [p.symbol, p.baseAsset, p.quoteAsset]),
          sim.market.symbols.map((s) => [s.coinbase, s.base, s.coinbaseQuote])
        )
        const volumes = yield* adapter.volumes24h
        assert.strictEqual(volumes.length, 12)
        for (const v of volumes) {
          assert.isAbove(v.volume, 0)
          assert.isAbove(v.quoteVolume, 0)
        }
      }),
    30_000
  )

  it.scopedLive(
    "an unknown product is UnknownSymbol",
    () =>
      Effect.gen(function* () {
        const sim = yield* start({ symbols: 3 })
        const adapter = yield* adapterOn(sim)
        const now = Date.now()
        const error = yield* Effect.flip(adapter.history(sym("NOPE-USD"), "5m", { from: now - 3_600_000, to: now }))
        assert.strictEqual(error._tag, "UnknownSymbol")
        assert.include(error.message, "NOPE-USD")
      }),
    30_000
  )

  it.scopedLive(
    "requests are paced to the row's budget (600/min → 10/s): thirty at once draw no 429",
    () =>
      Effect.gen(function* () {
        const sim = yield* start({ symbols: 3, seed: 6 })
        const adapter = yield* adapterOn(sim)
        const product = sym(sim.market.symbols[0]!.coinbase)
        const to = Timeframe.lastClosedOpenTime("5m", Date.now())
        yield* Effect.forEach(
          Array.from({ length: 30 }, (_, i) => i),
          (i) => adapter.history(product, "5m", { from: to - (i + 10) * 300_000, to }),
          { concurrency: "unbounded" }
        )
        const stats = yield* sim.stats
        assert.strictEqual(stats.rest[candlesKey], 30)
        assert.strictEqual(stats.rateLimited, 0)
      }),
    30_000
  )

  it.scopedLive(
    "429s pause every request and are retried without a request storm",
    () =>
      Effect.gen(function* () {
        const sim = yield* start({ symbols: 3, seed: 6 })
        // A row claiming ten times Coinbase's budget: the venue answers 429 and the governor must back off.
        const adapter = yield* adapterOn(sim, { restMaxRetries: 10 }, { restWeightPerMinute: 6000 })
        const product = sym(sim.market.symbols[0]!.coinbase)
        const to = Timeframe.lastClosedOpenTime("5m", Date.now())
        const results = yield* Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (i) => adapter.history(product, "5m", { from: to - (i + 10) * 300_000, to }),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(results.length, 20)
        const stats = yield* sim.stats
        const restStats = yield* adapter.restStats
        assert.isAbove(stats.rateLimited, 0)
        // Every request reached the venue once, plus one retry per 429: no more.
        assert.strictEqual(stats.rest[candlesKey], 20 + stats.rateLimited)
        assert.strictEqual(restStats.rateLimited, stats.rateLimited)
        assert.isBelow(stats.rateLimited, 20)
      }),
    60_000
  )
})

describe("CoinbaseAdapter: the row", () => {
  it.scopedLive("a row of another protocol fails fast with a clear message", () =>
    Effect.gen(function* () {
      const row = coinbaseRow({ wsUrl: "wss://stream.binance.com:9443", restUrl: "https://api.binance.com" }, {}, "binance")
      const exit = yield* Effect.exit(Layer.build(CoinbaseAdapter.layer(row).pipe(Layer.provide(NodeHttpClient.layerUndici))))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isSuccess(exit)) return
      assert.isTrue(Cause.isDie(exit.cause))
      assert.include(Cause.pretty(exit.cause), 'speaks the "binance" protocol, not "coinbase"')
    })
  )
})
