import { assert, describe, it } from "@effect/vitest"
import { Exchange, Market } from "@livermore/domain"
import { Duration, Option, Schema } from "effect"
import * as BinanceConfig from "../src/BinanceConfig.js"
import * as BinanceSocket from "../src/BinanceSocket.js"

const symbol = (s: string) => Schema.decodeSync(Market.SymbolId)(s)
const symbols = (n: number) => Array.from({ length: n }, (_, i) => symbol(`S${i}USDT`))

const row = (limits: Partial<ConstructorParameters<typeof Exchange.ApiLimits>[0]> = {}) =>
  Exchange.Exchange.make({
    id: Schema.decodeSync(Exchange.ExchangeId)(7),
    name: Schema.decodeSync(Exchange.ExchangeName)("sim_binance"),
    displayName: "Binance (simulator)",
    adapter: "binance",
    wsUrl: "ws://127.0.0.1:7070/",
    restUrl: "http://127.0.0.1:7070",
    timeframes: ["5m", "15m", "1h", "4h", "1d"],
    apiLimits: Exchange.ApiLimits.make({
      restWeightPerMinute: 6000,
      candlesPerRequest: 1000,
      wsMessagesPerSecond: 5,
      wsMaxStreamsPerConnection: 1024,
      wsMaxConnectionHours: Option.some(24),
      ...limits
    }),
    fees: Exchange.Fees.make({ maker: 0.001, taker: 0.001 }),
    geoRestrictions: [],
    isActive: true
  })

describe("sharding", () => {
  it("keeps every connection within the row's stream limit and each symbol on one connection", () => {
    const subscription = { symbols: symbols(400), timeframes: ["5m", "15m", "1h", "4h", "1d"] as const, tickers: true }
    const shards = BinanceSocket.shardsOf(subscription, 1024)
    // 6 streams per symbol: 170 symbols (1020 streams) per connection.
    assert.deepStrictEqual(
      shards.map((s) => [s.symbols.length, s.streams.length]),
      [
        [170, 1020],
        [170, 1020],
        [60, 360]
      ]
    )
    const seen = new Set<string>()
    for (const shard of shards) {
      for (const s of shard.symbols) {
        assert.isFalse(seen.has(s), `${s} on two connections`)
        seen.add(s)
        assert.isTrue(shard.streams.includes(`${s.toLowerCase()}@kline_5m`) && shard.streams.includes(`${s.toLowerCase()}@ticker`))
      }
    }
    assert.strictEqual(seen.size, 400)
  })

  it("removes duplicates and splits a symbol only when its streams alone exceed the limit", () => {
    const duplicated = { symbols: [symbol("BTCUSDT"), symbol("BTCUSDT")], timeframes: ["5m", "5m", "1h"] as const, tickers: false }
    assert.deepStrictEqual(
      BinanceSocket.shardsOf(duplicated, 1024).map((s) => [[...s.symbols], s.streams]),
      [[["BTCUSDT"], ["btcusdt@kline_5m", "btcusdt@kline_1h"]]]
    )
    const tiny = BinanceSocket.shardsOf({ symbols: symbols(2), timeframes: ["5m", "15m", "1h"], tickers: false }, 2)
    assert.deepStrictEqual(
      tiny.map((s) => [s.symbols.map(String), s.streams.length]),
      [
        [["S0USDT"], 2],
        [["S0USDT"], 1],
        [["S1USDT"], 2],
        [["S1USDT"], 1]
      ]
    )
    assert.deepStrictEqual(BinanceSocket.shardsOf({ symbols: [], timeframes: ["5m"], tickers: true }, 1024), [])
  })
})

describe("subscribing", () => {
  it("batches streams into few SUBSCRIBE messages with distinct ids", () => {
    const streams = Array.from({ length: 1020 }, (_, i) => `s${i}@kline_5m`)
    const messages = BinanceSocket.subscribeMessages(streams, 200, 1).map((m) => JSON.parse(m) as { method: string; params: Array<string>; id: number })
    assert.deepStrictEqual(
      messages.map((m) => [m.method, m.params.length, m.id]),
      [
        ["SUBSCRIBE", 200, 1],
        ["SUBSCRIBE", 200, 2],
        ["SUBSCRIBE", 200, 3],
        ["SUBSCRIBE", 200, 4],
        ["SUBSCRIBE", 200, 5],
        ["SUBSCRIBE", 20, 6]
      ]
    )
    assert.deepStrictEqual(messages.flatMap((m) => m.params), streams)
  })

  it("sends below the inbound limit, leaving room for pongs", () => {
    assert.strictEqual(BinanceSocket.outboundPerSecond(row()), 4)
    assert.strictEqual(BinanceSocket.outboundPerSecond(row({ wsMessagesPerSecond: 1 })), 1)
  })

  it("uses the combined endpoint of the row's URL", () => {
    assert.strictEqual(BinanceSocket.streamUrl(row()), "ws://127.0.0.1:7070/stream")
  })
})

describe("connection lifetime", () => {
  it("recycles 30 minutes before the venue's cut, and not at all without one", () => {
    const settings = BinanceConfig.defaults
    assert.strictEqual(Duration.toMillis(BinanceSocket.maxLifetime(row(), settings)!), Duration.toMillis(Duration.minutes(23 * 60 + 30)))
    assert.strictEqual(
      Duration.toMillis(BinanceSocket.maxLifetime(row({ wsMaxConnectionHours: Option.some(0.5) }), settings)!),
      Duration.toMillis(Duration.minutes(27))
    )
    assert.isUndefined(BinanceSocket.maxLifetime(row({ wsMaxConnectionHours: Option.none() }), settings))
  })

  it("the idle timeout outlasts Binance's 20 s pings", () => {
    assert.isTrue(Duration.greaterThan(BinanceConfig.defaults.idleTimeout, Duration.seconds(40)))
  })
})

describe("config", () => {
  it("overrides only what is given and refuses nonsense", () => {
    const settings = BinanceConfig.make({ weights: { klines: 1 }, streamsPerSubscribe: 50 })
    assert.deepStrictEqual(settings.weights, { ...BinanceConfig.defaults.weights, klines: 1 })
    assert.strictEqual(settings.streamsPerSubscribe, 50)
    assert.strictEqual(settings.recvWindow, 5000)
    assert.throws(() => BinanceConfig.make({ streamsPerSubscribe: 0 }), /streamsPerSubscribe/)
    assert.throws(() => BinanceConfig.make({ recvWindow: 70_000 }), /recvWindow/)
  })
})
