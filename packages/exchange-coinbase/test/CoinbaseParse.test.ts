import { assert, describe, it } from "@effect/vitest"
import { Either, Option } from "effect"
import * as Messages from "../src/CoinbaseMessages.js"
import * as Parse from "../src/CoinbaseParse.js"
import { fixture } from "./fixtures.js"

const rightOrThrow = <A, E>(either: Either.Either<A, E>): A => {
  if (Either.isLeft(either)) throw new Error(String(either.left))
  return either.right
}

const products = rightOrThrow(
  Parse.decodeJson(Messages.CoinbaseProductsResponse, "coinbase", "products")(fixture("rest_products"))
).products

const restCandles = rightOrThrow(
  Parse.decodeJson(Messages.CoinbaseCandlesResponse, "coinbase", "candles")(fixture("rest_candles"))
).candles

const T0 = Date.UTC(2026, 0, 5, 10, 0) // 1767607200 s

describe("CoinbaseParse", () => {
  it("converts a WebSocket candle: start seconds → ms, values as numbers, closed as told", () => {
    const message = Messages.decodeServerMessage(fixture("ws_candles_update"))
    const wire = rightOrThrow(message) as Messages.CoinbaseCandlesMessage
    const candle = rightOrThrow(Parse.candle(wire.events[0]!.candles[0]!, false))
    assert.deepStrictEqual(
      { ...candle },
      {
        openTime: T0,
        open: 92960,
        high: 93020,
        low: 92950.01,
        close: 93018.75,
        volume: 3.41054876,
        closed: false,
        synthetic: false
      }
    )
  })

  it("rejects an inconsistent candle (high below close) instead of throwing", () => {
    const wire = new Messages.CoinbaseWsCandle({
      start: 1767607200,
      high: 90,
      low: 80,
      open: 85,
      close: 95,
      volume: 1,
      product_id: "BTC-USD"
    })
    assert.isTrue(Either.isLeft(Parse.candle(wire, false)))
  })

  it("REST candles: oldest first, gaps kept as gaps, range bounds inclusive", () => {
    const range = { from: T0 - 600_000, to: T0 + 1_200_000 }
    const candles = rightOrThrow(Parse.restCandles(restCandles, "5m", range, T0 + 86_400_000))
    assert.deepStrictEqual(
      candles.map((c) => (c.openTime - T0) / 60_000),
      [-10, 0, 5, 10, 20]
    )
    assert.isTrue(candles.every((c) => c.closed && !c.synthetic))
  })

  it("REST candles: the still-forming candle and those outside the range are dropped", () => {
    // At 10:22:30 the 10:20 candle is still forming.
    const now = T0 + 22.5 * 60_000
    const candles = rightOrThrow(Parse.restCandles(restCandles, "5m", { from: T0, to: T0 + 3_600_000 }, now))
    assert.deepStrictEqual(
      candles.map((c) => (c.openTime - T0) / 60_000),
      [0, 5, 10]
    )
  })

  it("REST candles: misaligned starts and duplicates are dropped, one candle per open time", () => {
    const wire = [...restCandles, restCandles[1]!, new Messages.CoinbaseRestCandle({ ...restCandles[0]!, start: 1767607260 })]
    const candles = rightOrThrow(Parse.restCandles(wire, "5m", { from: 0, to: T0 + 3_600_000 }, T0 + 86_400_000))
    assert.strictEqual(candles.length, 5)
  })

  it("products: tradable spot products only, assets from the currency ids, aliases left out", () => {
    const listed = products.flatMap((p) => Option.toArray(Parse.product(p)))
    assert.deepStrictEqual(
      listed.map((p) => [p.symbol, p.baseAsset, p.quoteAsset]),
      [
        ["BTC-USD", "BTC", "USD"],
        ["ETH-USD", "ETH", "USD"],
        ["ETH-BTC", "ETH", "BTC"],
        ["NEW-USD", "NEW", "USD"]
      ]
    )
  })

  it("volumes: base from volume_24h, quote from approximate_quote_24h_volume; blank figures skipped", () => {
    const volumes = products.flatMap((p) => Option.toArray(Parse.volume24h(p)))
    assert.deepStrictEqual(volumes, [
      { symbol: "BTC-USD", volume: 16038.28770938, quoteVolume: 1491846123.55 },
      { symbol: "ETH-USD", volume: 210337.1, quoteVolume: 675161320.4 },
      { symbol: "ETH-BTC", volume: 1022.5, quoteVolume: 35.27 }
    ])
  })

  it("ticker: price, base volume, best bid/ask, exchange time; no invented quote volume", () => {
    const message = rightOrThrow(Messages.decodeServerMessage(fixture("ws_ticker"))) as Messages.CoinbaseTickerMessage
    const ticker = rightOrThrow(Parse.ticker(message.events[0]!.tickers[0]!, message.timestamp))
    assert.strictEqual(ticker.symbol, "BTC-USD")
    assert.strictEqual(ticker.price, 93018.75)
    assert.strictEqual(ticker.volume24h, 16038.28770938)
    assert.strictEqual(ticker.bestBid, 93018.74)
    assert.strictEqual(ticker.bestAsk, 93018.75)
    assert.isUndefined(ticker.quoteVolume24h)
    assert.strictEqual(ticker.time, Date.UTC(2026, 0, 5, 10, 2, 13, 167))
  })

  it("granularities: 4h has none (built from 1h)", () => {
    assert.deepStrictEqual(Parse.granularity("5m"), Option.some("FIVE_MINUTE"))
    assert.deepStrictEqual(Parse.granularity("15m"), Option.some("FIFTEEN_MINUTE"))
    assert.deepStrictEqual(Parse.granularity("1h"), Option.some("ONE_HOUR"))
    assert.deepStrictEqual(Parse.granularity("1d"), Option.some("ONE_DAY"))
    assert.isTrue(Option.isNone(Parse.granularity("4h")))
  })

  it("time units", () => {
    assert.strictEqual(Parse.secondsToMs(1767607200), T0)
    assert.strictEqual(Parse.msToSecondsString(T0 + 999), "1767607200")
  })
})
