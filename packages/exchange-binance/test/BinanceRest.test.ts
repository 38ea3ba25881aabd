import { HttpClient, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Exchange, Market, Timeframe } from "@livermore/domain"
import { ExchangeAdapter, ExchangeError } from "@livermore/exchange"
import { type Context, Effect, Layer, Option, Schema, TestClock } from "effect"
import * as BinanceAdapter from "../src/BinanceAdapter.js"
import type * as BinanceMessages from "../src/BinanceMessages.js"
import * as BinanceRest from "../src/BinanceRest.js"
import { text } from "./fixtures.js"

const FIVE_MINUTES = Timeframe.durationMs["5m"]
const symbol = (s: string) => Schema.decodeSync(Market.SymbolId)(s)

describe("pagination math", () => {
  const now = 1_700_000_162_345 // inside the 5m candle opening at 1_700_000_100_000

  it("the window holds closed candles only, with unaligned bounds rounded inwards", () => {
    assert.deepStrictEqual(
      BinanceRest.closedWindow("5m", { from: 1_699_990_000_001, to: now }, now),
      Option.some({ first: 1_699_990_200_000, last: 1_699_999_800_000 })
    )
    assert.deepStrictEqual(
      BinanceRest.closedWindow("5m", { from: 1_699_990_200_000, to: 1_699_990_500_000 }, now),
      Option.some({ first: 1_699_990_200_000, last: 1_699_990_500_000 })
    )
    // Only the forming candle is in range: nothing to fetch.
    assert.isTrue(Option.isNone(BinanceRest.closedWindow("5m", { from: 1_700_000_100_000, to: now }, now)))
    assert.isTrue(Option.isNone(BinanceRest.closedWindow("1h", { from: 10, to: 20 }, now)))
  })

  it("each page asks up to the close time of the window's last candle", () => {
    const window = { first: 0, last: 10 * FIVE_MINUTES }
    assert.deepStrictEqual(BinanceRest.pageParams("5m", 3 * FIVE_MINUTES, window, 1000), {
      startTime: 3 * FIVE_MINUTES,
      endTime: 11 * FIVE_MINUTES - 1,
      limit: 1000
    })
  })

  it("the next page starts one interval after the last row; a short or stuck page ends the loop", () => {
    const window = { first: 0, last: 5000 * FIVE_MINUTES }
    const page = { rows: 1000, limit: 1000, start: 0, lastOpenTime: 999 * FIVE_MINUTES }
    assert.deepStrictEqual(BinanceRest.nextPageStart("5m", window, page), Option.some(1000 * FIVE_MINUTES))
    assert.isTrue(Option.isNone(BinanceRest.nextPageStart("5m", window, { ...page, rows: 999 })))
    assert.isTrue(Option.isNone(BinanceRest.nextPageStart("5m", window, { ...page, rows: 0, lastOpenTime: undefined })))
    assert.isTrue(Option.isNone(BinanceRest.nextPageStart("5m", window, { ...page, start: 1000 * FIVE_MINUTES })))
    assert.isTrue(
      Option.isNone(BinanceRest.nextPageStart("5m", { first: 0, last: 999 * FIVE_MINUTES }, page)),
      "window covered"
    )
  })

  it("keeps closed rows in the window in strictly increasing order", () => {
    const row = (open: number): BinanceMessages.KlineRow => [open, 1, 1, 1, 1, 0, open + FIVE_MINUTES - 1, 0, 0, 0, 0, "0"]
    const window = { first: FIVE_MINUTES, last: 4 * FIVE_MINUTES }
    const rows = [0, 1, 2, 2, 4, 3, 5].map((i) => row(i * FIVE_MINUTES))
    assert.deepStrictEqual(
      BinanceRest.closedRows(rows, window, 10 * FIVE_MINUTES, Number.NEGATIVE_INFINITY).map((r) => r[0] / FIVE_MINUTES),
      [1, 2, 4]
    )
    // A row whose close time has not passed is still forming, whatever the window says.
    assert.deepStrictEqual(BinanceRest.closedRows([row(4 * FIVE_MINUTES)], window, 5 * FIVE_MINUTES - 1, 0), [])
    assert.deepStrictEqual(BinanceRest.closedRows(rows, window, 10 * FIVE_MINUTES, 2 * FIVE_MINUTES).map((r) => r[0] / FIVE_MINUTES), [4])
  })
})

/** An in-process Binance REST double: klines from a price walk with an outage, plus the fixture bodies. */
const fakeBinance = (options: { readonly gap: readonly [number, number]; readonly skewMs?: number }) => {
  const requests: Array<URL> = []
  const json = (request: Parameters<typeof HttpClientResponse.fromWeb>[0], body: string, status = 200, headers: Record<string, string> = {}) =>
    HttpClientResponse.fromWeb(request, new Response(body, { status, headers: { "content-type": "application/json", ...headers } }))
  const client = HttpClient.make((request, url) =>
    Effect.gen(function* () {
      requests.push(url)
      const now = (yield* Effect.clockWith((clock) => clock.currentTimeMillis)) + (options.skewMs ?? 0)
      const used = { "x-mbx-used-weight-1m": String(requests.length * 2) }
      switch (url.pathname) {
        case "/api/v3/klines": {
          const p = url.searchParams
          if (p.get("symbol") !== "BTCUSDT") return json(request, text("error-invalid-symbol"), 400, used)
          if (p.get("interval") !== "5m") return json(request, '{"code":-1120,"msg":"Invalid interval."}', 400, used)
          const start = Number(p.get("startTime"))
          const end = Number(p.get("endTime"))
          const limit = Number(p.get("limit"))
          const rows: Array<unknown> = []
          for (let t = Math.ceil(start / FIVE_MINUTES) * FIVE_MINUTES; t <= end && t <= now && rows.length < limit; t += FIVE_MINUTES) {
            if (t >= options.gap[0] && t < options.gap[1]) continue
            const price = String(100 + ((t / FIVE_MINUTES) % 7))
            rows.push([t, price, price, price, price, "1.5", t + FIVE_MINUTES - 1, "150", 3, "0.5", "50", "0"])
          }
          return json(request, JSON.stringify(rows), 200, used)
        }
        case "/api/v3/time":
          return json(request, JSON.stringify({ serverTime: now }), 200, used)
        case "/api/v3/exchangeInfo":
          return json(request, text("exchange-info"), 200, used)
        case "/api/v3/ticker/24hr":
          return json(request, text("ticker-24hr"), 200, used)
        default:
          return json(request, '{"code":-1,"msg":"not found"}', 404)
      }
    })
  )
  return { client, requests }
}

const row = (overrides: Partial<ConstructorParameters<typeof Exchange.Exchange>[0]> = {}) =>
  Exchange.Exchange.make({
    id: Schema.decodeSync(Exchange.ExchangeId)(1),
    name: Schema.decodeSync(Exchange.ExchangeName)("binance"),
    displayName: "Binance",
    adapter: "binance",
    wsUrl: "wss://stream.binance.com:9443",
    restUrl: "https://api.binance.com/",
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
    isActive: true,
    ...overrides
  })

describe("history, products and volumes over a REST double", () => {
  const now = 1_700_000_162_345
  const gap: readonly [number, number] = [1_699_500_000_000, 1_699_500_000_000 + 12 * FIVE_MINUTES]

  const withAdapter = <A, E>(
    use: (adapter: Context.Tag.Service<ExchangeAdapter.ExchangeAdapter>, requests: Array<URL>) => Effect.Effect<A, E>,
    skewMs = 0
  ) =>
    Effect.gen(function* () {
      yield* TestClock.setTime(now)
      const fake = fakeBinance({ gap, skewMs })
      const adapter = yield* ExchangeAdapter.ExchangeAdapter.pipe(
        Effect.provide(BinanceAdapter.layer(row()).pipe(Layer.provide(Layer.succeed(HttpClient.HttpClient, fake.client))))
      )
      return yield* use(adapter, fake.requests)
    })

  it.effect("pages through 2,500 candles, 1000 at a time, closed only, strictly increasing", () =>
    withAdapter((adapter, requests) =>
      Effect.gen(function* () {
        const to = Timeframe.lastClosedOpenTime("5m", now)
        const from = to - 2499 * FIVE_MINUTES
        const candles = yield* adapter.history(symbol("BTCUSDT"), "5m", { from, to: now })
        assert.strictEqual(candles.length, 2500 - 12, "the outage's 12 intervals are absent")
        assert.strictEqual(candles[0]?.openTime, from)
        assert.strictEqual(candles[candles.length - 1]?.openTime, to)
        for (let i = 1; i < candles.length; i++) assert.isTrue(candles[i]!.openTime > candles[i - 1]!.openTime)
        assert.isTrue(candles.every((c) => c.closed && !c.synthetic))
        assert.deepStrictEqual(
          requests.map((u) => u.pathname),
          ["/api/v3/time", "/api/v3/klines", "/api/v3/klines", "/api/v3/klines"]
        )
        const pages = requests.slice(1)
        assert.strictEqual(Number(pages[0]?.searchParams.get("startTime")), from)
        for (let i = 1; i < pages.length; i++) {
          assert.isTrue(Number(pages[i]!.searchParams.get("startTime")) > Number(pages[i - 1]!.searchParams.get("startTime")))
        }
        assert.deepStrictEqual(
          pages.map((u) => u.searchParams.get("limit")),
          ["1000", "1000", "1000"]
        )
        assert.isTrue(pages.every((u) => u.href.startsWith("https://api.binance.com/api/v3/klines?")))
        const stats = yield* adapter.restStats
        assert.strictEqual(stats.requests, 4)
        assert.strictEqual(stats.weightLimit, 6000)
      })
    )
  )

  it.effect("an empty window makes no klines request", () =>
    withAdapter((adapter, requests) =>
      Effect.gen(function* () {
        const forming = Timeframe.floor("5m", now)
        assert.deepStrictEqual(yield* adapter.history(symbol("BTCUSDT"), "5m", { from: forming, to: now }), [])
        assert.isFalse(requests.some((u) => u.pathname === "/api/v3/klines"))
      })
    )
  )

  it.effect("the server's clock decides which klines have closed, not the local one", () =>
    withAdapter(
      (adapter, requests) =>
        Effect.gen(function* () {
          // The server is 12 minutes behind: its forming candle opened 15 minutes (3 candles) before ours.
          const serverNow = now - 12 * 60_000
          const candles = yield* adapter.history(symbol("BTCUSDT"), "5m", { from: now - 3_600_000, to: now })
          assert.strictEqual(candles[candles.length - 1]?.openTime, Timeframe.lastClosedOpenTime("5m", serverNow))
          assert.isTrue(candles.every((c) => c.closed))
          // The offset is measured once and reused.
          yield* adapter.history(symbol("BTCUSDT"), "5m", { from: now - 3_600_000, to: now })
          assert.strictEqual(requests.filter((u) => u.pathname === "/api/v3/time").length, 1)
        }),
      -12 * 60_000
    )
  )

  it.effect("Binance's -1121 is UnknownSymbol; another 400 stays RequestFailed with its status", () =>
    withAdapter((adapter) =>
      Effect.gen(function* () {
        const unknown = yield* Effect.flip(adapter.history(symbol("NOPEUSDT"), "5m", { from: now - 3_600_000, to: now }))
        assert.instanceOf(unknown, ExchangeError.UnknownSymbol)
        assert.strictEqual(unknown.message, 'binance lists no symbol "NOPEUSDT"')
        const other = yield* Effect.flip(adapter.history(symbol("BTCUSDT"), "1h", { from: now - 86_400_000, to: now }))
        assert.instanceOf(other, ExchangeError.RequestFailed)
        assert.strictEqual((other as ExchangeError.RequestFailed).status, 400)
      })
    )
  )

  it.effect("products are the TRADING symbols; volumes the tradable ones' 24 h volumes", () =>
    withAdapter((adapter) =>
      Effect.gen(function* () {
        const products = yield* adapter.products
        assert.deepStrictEqual(
          products.map((p) => p.symbol),
          ["BTCUSDT", "ETHBTC"]
        )
        const volumes = yield* adapter.volumes24h
        assert.deepStrictEqual(
          volumes.map((v) => [v.symbol, v.quoteVolume]),
          [
            ["BTCUSDT", 880000000.25],
            ["ETHBTC", 2876.4]
          ]
        )
      })
    )
  )

  it.effect("a body that does not match the documented format is a DecodeError", () =>
    Effect.gen(function* () {
      const client = HttpClient.make((request) =>
        Effect.succeed(HttpClientResponse.fromWeb(request, new Response('{"symbols":[{"symbol":"BTCUSDT"}]}', { status: 200 })))
      )
      const adapter = yield* ExchangeAdapter.ExchangeAdapter.pipe(
        Effect.provide(BinanceAdapter.layer(row()).pipe(Layer.provide(Layer.succeed(HttpClient.HttpClient, client))))
      )
      const error = yield* Effect.flip(adapter.products)
      assert.instanceOf(error, ExchangeError.DecodeError)
      assert.strictEqual((error as ExchangeError.DecodeError).what, "GET /api/v3/exchangeInfo")
    })
  )

  it.effect("a row of another protocol is refused before anything is built", () =>
    Effect.gen(function* () {
      const exit = yield* ExchangeAdapter.ExchangeAdapter.pipe(
        Effect.provide(BinanceAdapter.layer(row({ adapter: "coinbase" })).pipe(Layer.provide(Layer.succeed(HttpClient.HttpClient, fakeBinance({ gap }).client)))),
        Effect.exit
      )
      assert.isTrue(exit._tag === "Failure")
      if (exit._tag === "Failure") assert.include(String(exit.cause), 'uses the "coinbase" adapter, not "binance"')
    })
  )
})
