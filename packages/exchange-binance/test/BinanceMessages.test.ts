import { assert, describe, it } from "@effect/vitest"
import { ExchangeError } from "@livermore/exchange"
import { Either, Schema } from "effect"
import * as BinanceMessages from "../src/BinanceMessages.js"
import { decoder } from "../src/internal/decode.js"
import { json } from "./fixtures.js"

const decode = <A, I>(schema: Schema.Schema<A, I>, input: unknown): A => Schema.decodeUnknownSync(schema)(input)
const fails = <A, I>(schema: Schema.Schema<A, I>, input: unknown): boolean =>
  Either.isLeft(Schema.decodeUnknownEither(schema)(input))

describe("Decimal", () => {
  it("decodes decimal strings and refuses numbers, blanks and non-finite values", () => {
    assert.strictEqual(decode(BinanceMessages.Decimal, "37000.10"), 37000.1)
    assert.strictEqual(decode(BinanceMessages.Decimal, "0.00000000"), 0)
    assert.strictEqual(decode(BinanceMessages.Decimal, "-1.5"), -1.5)
    for (const bad of [37000.1, "", " 1", "1,5", "NaN", "Infinity", "0x10", null]) {
      assert.isTrue(fails(BinanceMessages.Decimal, bad), String(bad))
    }
  })
})

describe("kline events", () => {
  it("decodes a forming kline with prices from strings", () => {
    const event = decode(BinanceMessages.KlineEvent, json("kline-open"))
    assert.strictEqual(event.s, "BTCUSDT")
    assert.strictEqual(event.k.t, 1_700_000_100_000)
    assert.strictEqual(event.k.T, 1_700_000_399_999)
    assert.strictEqual(event.k.i, "5m")
    assert.deepStrictEqual([event.k.o, event.k.h, event.k.l, event.k.c, event.k.v], [37000.1, 37010, 36999, 37005, 12.345])
    assert.isFalse(event.k.x)
  })

  it("decodes a closed kline", () => {
    assert.isTrue(decode(BinanceMessages.KlineEvent, json("kline-closed")).k.x)
  })

  it("decodes a zero-trade kline: trade ids -1/-1 and no B field", () => {
    const event = decode(BinanceMessages.KlineEvent, json("kline-zero-trade"))
    assert.deepStrictEqual([event.k.f, event.k.L, event.k.n, event.k.v], [-1, -1, 0, 0])
    assert.isFalse("B" in event.k)
  })

  it("refuses a kline with a numeric price, a missing close flag or a wrong event type", () => {
    const good = json("kline-open") as { k: Record<string, unknown> }
    assert.isTrue(fails(BinanceMessages.KlineEvent, { ...good, k: { ...good.k, o: 37000.1 } }))
    const { x: _x, ...noFlag } = good.k
    assert.isTrue(fails(BinanceMessages.KlineEvent, { ...good, k: noFlag }))
    assert.isTrue(fails(BinanceMessages.KlineEvent, { ...good, e: "aggTrade" }))
  })
})

describe("frames", () => {
  it("decodes the combined wrapper around any event", () => {
    const frame = decode(BinanceMessages.Frame, json("combined-kline"))
    assert.isTrue("stream" in frame && frame.stream === "ethusdt@kline_15m" && frame.data.e === "kline")
    const shutdown = decode(BinanceMessages.Frame, json("combined-server-shutdown"))
    assert.isTrue("stream" in shutdown && shutdown.stream === "!serverShutdown" && shutdown.data.e === "serverShutdown")
  })

  it("decodes tickers, acknowledgements, control errors and shutdown notices", () => {
    const ticker = decode(BinanceMessages.Combined, json("ticker")).data
    assert.isTrue(ticker.e === "24hrTicker" && ticker.b === 37004.99 && ticker.a === 37005.01)
    const mini = decode(BinanceMessages.MiniTickerEvent, json("mini-ticker"))
    assert.deepStrictEqual([mini.c, mini.v, mini.q], [37005, 24000.5, 880000000.25])
    assert.deepStrictEqual(decode(BinanceMessages.Ack, json("ack")), { result: null, id: 7 })
    assert.strictEqual(decode(BinanceMessages.ControlError, json("control-error")).code, 2)
    assert.strictEqual(decode(BinanceMessages.ServerShutdown, json("server-shutdown")).E, 1_700_000_500_000)
    for (const name of ["ticker", "mini-ticker", "ack", "control-error", "server-shutdown", "kline-open"]) {
      assert.isFalse(fails(BinanceMessages.Frame, json(name)), name)
    }
  })

  it("refuses frames that are none of the documented ones", () => {
    for (const bad of [{}, [], "pong", { stream: "x", data: { e: "depthUpdate" } }, { id: 1 }, { e: "kline" }]) {
      assert.isTrue(fails(BinanceMessages.Frame, bad), JSON.stringify(bad))
    }
  })
})

describe("REST bodies", () => {
  it("decodes kline rows: numbers for times and counts, strings for decimals", () => {
    const rows = decode(BinanceMessages.Klines, json("rest-klines"))
    assert.strictEqual(rows.length, 3)
    const [first] = rows
    assert.deepStrictEqual(first?.slice(0, 9), [1_700_000_100_000, 37000.1, 37012, 36995, 37002.5, 31.5, 1_700_000_399_999, 1165590.3, 420])
  })

  it("accepts rows with extra trailing elements and refuses short or mistyped rows", () => {
    const row = (json("rest-klines") as Array<Array<unknown>>)[0]!
    assert.isFalse(fails(BinanceMessages.KlineRow, [...row, "extra"]))
    assert.isTrue(fails(BinanceMessages.KlineRow, row.slice(0, 6)))
    assert.isTrue(fails(BinanceMessages.KlineRow, [String(row[0]), ...row.slice(1)]))
  })

  it("decodes exchangeInfo, ticker/24hr, error bodies, account and myTrades", () => {
    const info = decode(BinanceMessages.ExchangeInfo, json("exchange-info"))
    assert.deepStrictEqual(
      info.symbols.map((s) => [s.symbol, s.status]),
      [["BTCUSDT", "TRADING"], ["ETHBTC", "TRADING"], ["LUNAUSDT", "BREAK"], ["币安人生USDT", "TRADING"]]
    )
    assert.strictEqual(info.rateLimits[0]?.limit, 6000)
    const tickers = decode(BinanceMessages.Tickers24h, json("ticker-24hr"))
    assert.deepStrictEqual(tickers.map((t) => t.quoteVolume), [880000000.25, 2876.4, 0])
    assert.deepStrictEqual(decode(BinanceMessages.ErrorBody, json("error-invalid-symbol")), { code: -1121, msg: "Invalid symbol." })
    const account = decode(BinanceMessages.Account, json("account"))
    assert.deepStrictEqual(account.commissionRates, { maker: 0.001, taker: 0.001 })
    assert.strictEqual(account.balances.length, 3)
    assert.deepStrictEqual(decode(BinanceMessages.MyTrades, json("my-trades")).map((t) => t.id), [28457, 28458])
  })

  it("reports a mismatch as DecodeError naming the exchange, the body and an excerpt", () => {
    const result = decoder(BinanceMessages.ExchangeInfo, "binance", "GET /api/v3/exchangeInfo")({ symbols: "none" })
    assert.isTrue(Either.isLeft(result))
    if (Either.isLeft(result)) {
      const error = result.left
      assert.instanceOf(error, ExchangeError.DecodeError)
      assert.strictEqual(error.exchange, "binance")
      assert.strictEqual(error.what, "GET /api/v3/exchangeInfo")
      assert.strictEqual(error.excerpt, '{"symbols":"none"}')
      assert.include(error.message, "binance: cannot decode GET /api/v3/exchangeInfo")
    }
  })
})
