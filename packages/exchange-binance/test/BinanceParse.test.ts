import { assert, describe, it } from "@effect/vitest"
import { Market, Timeframe } from "@livermore/domain"
import { ExchangeError } from "@livermore/exchange"
import { Either, Option, Schema } from "effect"
import * as BinanceMessages from "../src/BinanceMessages.js"
import * as BinanceParse from "../src/BinanceParse.js"
import { json, text } from "./fixtures.js"

const symbol = (s: string) => Schema.decodeSync(Market.SymbolId)(s)
const right = <A, E>(either: Either.Either<A, E>): A => {
  if (Either.isLeft(either)) assert.fail(`expected Right, got ${String(either.left)}`)
  return either.right
}
const left = <A, E>(either: Either.Either<A, E>): E => {
  if (Either.isRight(either)) assert.fail(`expected Left, got ${JSON.stringify(either.right)}`)
  return either.left
}

describe("intervals and stream names", () => {
  it("maps every timeframe to its Binance interval and back", () => {
    assert.deepStrictEqual(Timeframe.all.map(BinanceParse.intervalOf), ["5m", "15m", "1h", "4h", "1d"])
    for (const timeframe of Timeframe.all) {
      assert.deepStrictEqual(BinanceParse.timeframeOf(BinanceParse.intervalOf(timeframe)), Option.some(timeframe))
    }
    for (const other of ["1m", "3m", "1w", "1M", "1H", "5M", ""]) assert.isTrue(Option.isNone(BinanceParse.timeframeOf(other)))
  })

  it("names streams with the lowercase symbol", () => {
    assert.strictEqual(BinanceParse.klineStream(symbol("BTCUSDT"), "5m"), "btcusdt@kline_5m")
    assert.strictEqual(BinanceParse.tickerStream(symbol("ETHBTC")), "ethbtc@ticker")
    assert.deepStrictEqual(BinanceParse.streamsOf(symbol("BTCUSDT"), ["1h", "1d"], true), [
      "btcusdt@kline_1h",
      "btcusdt@kline_1d",
      "btcusdt@ticker"
    ])
    assert.deepStrictEqual(BinanceParse.streamsOf(symbol("BTCUSDT"), ["4h"], false), ["btcusdt@kline_4h"])
  })
})

describe("candles", () => {
  const kline = (name: string) => Schema.decodeUnknownSync(BinanceMessages.KlineEvent)(json(name))

  it("a forming kline is an open, non-synthetic candle", () => {
    const update = right(BinanceParse.candleFromKline("binance", kline("kline-open")))
    assert.strictEqual(update.symbol, "BTCUSDT")
    assert.strictEqual(update.timeframe, "5m")
    assert.deepStrictEqual(
      { ...update.candle },
      { openTime: 1_700_000_100_000, open: 37000.1, high: 37010, low: 36999, close: 37005, volume: 12.345, closed: false, synthetic: false }
    )
  })

  it("x = true closes the candle", () => {
    assert.isTrue(right(BinanceParse.candleFromKline("binance", kline("kline-closed"))).candle.closed)
  })

  it("a zero-trade kline is flat with no volume and still not synthetic: Binance published it", () => {
    const { candle, timeframe } = right(BinanceParse.candleFromKline("binance", kline("kline-zero-trade")))
    assert.strictEqual(timeframe, "1h")
    assert.deepStrictEqual([candle.open, candle.high, candle.low, candle.close, candle.volume], [0.015, 0.015, 0.015, 0.015, 0])
    assert.isFalse(candle.synthetic)
  })

  it("refuses intervals Livermore does not keep and inconsistent candles", () => {
    const open = kline("kline-open")
    const oneMinute = left(BinanceParse.candleFromKline("binance", { ...open, k: { ...open.k, i: "1m" } }))
    assert.instanceOf(oneMinute, ExchangeError.DecodeError)
    assert.include(oneMinute.message, 'interval "1m"')
    assert.instanceOf(left(BinanceParse.candleFromKline("binance", { ...open, k: { ...open.k, h: 36000 } })), ExchangeError.DecodeError)
    assert.instanceOf(left(BinanceParse.candleFromKline("binance", { ...open, k: { ...open.k, s: "BTC USDT" } })), ExchangeError.DecodeError)
  })

  it("REST rows become candles with the closed flag the caller decided", () => {
    const rows = Schema.decodeUnknownSync(BinanceMessages.Klines)(json("rest-klines"))
    const candle = right(BinanceParse.candleFromRow("binance", rows[2]!, true))
    assert.deepStrictEqual(
      { ...candle },
      { openTime: 1_700_000_700_000, open: 37018, high: 37018, low: 37018, close: 37018, volume: 0, closed: true, synthetic: false }
    )
  })
})

describe("tickers", () => {
  it("a 24hrTicker carries last price, volumes and top of book", () => {
    const event = Schema.decodeUnknownSync(BinanceMessages.Combined)(json("ticker")).data
    assert.strictEqual(event.e, "24hrTicker")
    if (event.e !== "24hrTicker") return
    const ticker = right(BinanceParse.tickerFromEvent("binance", event))
    assert.deepStrictEqual(
      { ...ticker },
      {
        symbol: "BTCUSDT",
        price: 37005,
        volume24h: 24000.5,
        quoteVolume24h: 880000000.25,
        bestBid: 37004.99,
        bestAsk: 37005.01,
        time: 1_700_000_162_345
      }
    )
  })

  it("a 24hrMiniTicker has no top of book", () => {
    const event = Schema.decodeUnknownSync(BinanceMessages.MiniTickerEvent)(json("mini-ticker"))
    const ticker = right(BinanceParse.tickerFromMiniTicker("binance", event))
    assert.strictEqual(ticker.price, 37005)
    assert.isFalse("bestBid" in ticker)
  })
})

describe("products and volumes", () => {
  const info = Schema.decodeUnknownSync(BinanceMessages.ExchangeInfo)(json("exchange-info"))

  it("keeps TRADING symbols with their listed assets and skips what the domain cannot carry", () => {
    const { products, skipped } = BinanceParse.productsFromExchangeInfo(info)
    assert.deepStrictEqual(
      products.map((p) => [p.symbol, p.baseAsset, p.quoteAsset]),
      [
        ["BTCUSDT", "BTC", "USDT"],
        ["ETHBTC", "ETH", "BTC"]
      ]
    )
    assert.deepStrictEqual(
      skipped.map((s) => s.symbol),
      ["币安人生USDT"]
    )
    assert.deepStrictEqual(BinanceParse.requestWeightPerMinute(info), Option.some(6000))
  })

  it("volumes come from ticker/24hr, for tradable symbols only", () => {
    const rows = Schema.decodeUnknownSync(BinanceMessages.Tickers24h)(json("ticker-24hr"))
    const tradable = new Set(BinanceParse.productsFromExchangeInfo(info).products.map((p) => p.symbol as string))
    assert.deepStrictEqual(
      BinanceParse.volumesFromTickers(rows, tradable).map((v) => [v.symbol, v.volume, v.quoteVolume]),
      [
        ["BTCUSDT", 24000.5, 880000000.25],
        ["ETHBTC", 52000.1, 2876.4]
      ]
    )
  })
})

describe("stream frames", () => {
  const frame = (input: string) => BinanceParse.frameFromText("sim_binance", input)

  it("turns wrapped and bare klines and tickers into market events", () => {
    const wrapped = right(frame(text("combined-kline")))
    assert.isTrue(wrapped._tag === "Event" && wrapped.event._tag === "Candle" && wrapped.event.timeframe === "15m")
    const bare = right(frame(text("kline-closed")))
    assert.isTrue(bare._tag === "Event" && bare.event._tag === "Candle" && bare.event.candle.closed)
    const ticker = right(frame(text("ticker")))
    assert.isTrue(ticker._tag === "Event" && ticker.event._tag === "Ticker" && ticker.event.ticker.bestBid === 37004.99)
    const mini = right(frame(text("mini-ticker")))
    assert.isTrue(mini._tag === "Event" && mini.event._tag === "Ticker")
  })

  it("recognises acknowledgements, refusals and shutdown notices in both forms", () => {
    assert.deepStrictEqual(right(frame(text("ack"))), { _tag: "Ack", id: 7 })
    assert.deepStrictEqual(right(frame(text("control-error"))), {
      _tag: "Refused",
      code: 2,
      msg: "Invalid request: unknown variant `SUBSCRIBEE`"
    })
    assert.deepStrictEqual(right(frame(text("server-shutdown"))), { _tag: "Shutdown", at: 1_700_000_500_000 })
    assert.deepStrictEqual(right(frame(text("combined-server-shutdown"))), { _tag: "Shutdown", at: 1_700_000_500_000 })
  })

  it("fails with DecodeError on malformed frames, with an excerpt of the frame", () => {
    const kline = text("kline-open")
    for (const bad of [
      "",
      "{not json",
      kline.slice(0, 40),
      kline.replace('"o":"37000.10"', '"o":37000.10'),
      kline.replace('"i":"5m"', '"i":"1m"'),
      kline.replace('"h":"37010.00"', '"h":"1.00"'),
      '{"e":"depthUpdate","E":1,"s":"BTCUSDT"}',
      "[1,2,3]"
    ]) {
      const error = left(frame(bad))
      assert.instanceOf(error, ExchangeError.DecodeError)
      assert.strictEqual(error.exchange, "sim_binance")
      assert.isAtMost(error.excerpt.length, 301)
    }
  })
})
