import { ExchangeError, type MarketEvent, type ReconnectingSocket } from "@livermore/exchange"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Ref, Stream } from "effect"
import * as CoinbaseConfig from "../src/CoinbaseConfig.js"
import * as CoinbaseSocket from "../src/CoinbaseSocket.js"
import { candlesFrame, coinbaseRow, frame, heartbeatFrame, sym } from "./support.js"

const T0 = Date.UTC(2026, 0, 5, 10, 0)
const BTC = sym("BTC-USD")
const ETH = sym("ETH-USD")
const row = coinbaseRow({ wsUrl: "wss://advanced-trade-ws.coinbase.com", restUrl: "https://api.coinbase.com" })

const opened = (at: number, downSince?: number): ReconnectingSocket.SocketEvent => ({ _tag: "Opened", at, downSince })
const message = (text: string): ReconnectingSocket.SocketEvent => ({ _tag: "Message", text })

const candle = (product: string, minute: number, close = 100) => ({
  product,
  start: T0 + minute * 60_000,
  open: 100,
  high: 110,
  low: 90,
  close,
  volume: 1
})

/**
 * Run the stream over scripted connections (one script per connection, each then idling) until the events
 * stop for a moment; returns the events, the malformed count and the options each connection got.
 */
const run = (
  scripts: ReadonlyArray<ReadonlyArray<ReconnectingSocket.SocketEvent>>,
  subscription: { symbols: ReadonlyArray<string>; timeframes?: ReadonlyArray<"5m" | "15m" | "1h" | "4h" | "1d">; tickers?: boolean },
  exchange = row
) =>
  Effect.gen(function* () {
    const malformedFrames = yield* Ref.make(0)
    const connected: Array<ReconnectingSocket.Options> = []
    const stream = CoinbaseSocket.stream(
      {
        exchange,
        config: CoinbaseConfig.make(),
        malformedFrames,
        connect: (options) => {
          const script = scripts[connected.length] ?? []
          connected.push(options)
          return Stream.concat(Stream.fromIterable(script), Stream.never)
        }
      },
      { symbols: subscription.symbols.map(sym), timeframes: subscription.timeframes ?? ["5m"], tickers: subscription.tickers ?? false }
    )
    const events = yield* stream.pipe(Stream.interruptAfter("150 millis"), Stream.runCollect)
    const frames = yield* Effect.forEach(connected, (o) => o.onConnect)
    return { events: Chunk.toReadonlyArray(events), malformed: yield* Ref.get(malformedFrames), connected, frames }
  })

const tags = (events: ReadonlyArray<MarketEvent.MarketEvent>) => events.map((e) => e._tag)

describe("CoinbaseSocket: subscriptions", () => {
  it.live("one subscribe per channel: candles, ticker when wanted, heartbeats always", () =>
    Effect.gen(function* () {
      const withTickers = yield* run([[opened(T0)]], { symbols: ["BTC-USD", "ETH-USD"], tickers: true })
      assert.deepStrictEqual(withTickers.frames[0]!.map((f) => JSON.parse(f)), [
        { type: "subscribe", channel: "candles", product_ids: ["BTC-USD", "ETH-USD"] },
        { type: "subscribe", channel: "ticker", product_ids: ["BTC-USD", "ETH-USD"] },
        { type: "subscribe", channel: "heartbeats" }
      ])
      const options = withTickers.connected[0]!
      assert.strictEqual(options.url, "wss://advanced-trade-ws.coinbase.com")
      assert.strictEqual(options.outboundPerSecond, 8)
      assert.isUndefined(options.maxAttempts)
      const tickersOnly = yield* run([[opened(T0)]], { symbols: ["BTC-USD"], timeframes: [], tickers: true })
      assert.deepStrictEqual(
        tickersOnly.frames[0]!.map((f) => JSON.parse(f).channel),
        ["ticker", "heartbeats"]
      )
    })
  )

  it.live("products are spread over connections of at most wsMaxStreamsPerConnection, sharing 8 msgs/s", () =>
    Effect.gen(function* () {
      const small = coinbaseRow({ wsUrl: "ws://127.0.0.1:1", restUrl: "http://127.0.0.1:1" }, { wsMaxStreamsPerConnection: 2 })
      const result = yield* run([], { symbols: ["A-USD", "B-USD", "C-USD", "D-USD", "E-USD", "A-USD"] }, small)
      assert.deepStrictEqual(
        result.frames.map((frames) => JSON.parse(frames[0]!).product_ids),
        [["A-USD", "B-USD"], ["C-USD", "D-USD"], ["E-USD"]]
      )
      assert.deepStrictEqual(result.connected.map((o) => o.outboundPerSecond), [2, 2, 2])
    })
  )

  it.live("an empty subscription opens no connection and runs until interrupted", () =>
    Effect.gen(function* () {
      const result = yield* run([], { symbols: [] })
      assert.deepStrictEqual(result.connected, [])
      assert.deepStrictEqual(result.events, [])
    })
  )
})

describe("CoinbaseSocket: frames to events", () => {
  it.live("candles of the subscribed products only; a later start closes the previous bucket", () =>
    Effect.gen(function* () {
      const { events } = yield* run(
        [
          [
            opened(T0),
            message(frame("subscriptions", 0, T0, [{ subscriptions: { candles: ["BTC-USD"] } }])),
            message(candlesFrame(1, T0 + 1_000, [candle("BTC-USD", 0, 101), candle("SOL-USD", 0)])),
            message(candlesFrame(2, T0 + 301_000, [candle("BTC-USD", 0, 104), candle("BTC-USD", 5, 105)]))
          ]
        ],
        { symbols: ["BTC-USD"] }
      )
      const shown = events.map((e) =>
        e._tag === "Candle" ? `${e.symbol} ${e.timeframe} ${(e.candle.openTime - T0) / 60_000} ${e.candle.closed} ${e.candle.close}` : e._tag
      )
      assert.deepStrictEqual(shown, [
        "BTC-USD 5m 0 false 101",
        "BTC-USD 5m 0 false 104",
        "BTC-USD 5m 0 true 104",
        "BTC-USD 5m 5 false 105"
      ])
    })
  )

  it.live("timer closes follow the candles channel's clock: heartbeats running ahead close nothing", () =>
    Effect.gen(function* () {
      const tenMinutes = 600_000
      const ahead = yield* run(
        [[opened(T0), message(candlesFrame(0, T0 + 1_000, [candle("BTC-USD", 0)])), message(heartbeatFrame(1, T0 + tenMinutes, 1))]],
        { symbols: ["BTC-USD"] }
      )
      assert.deepStrictEqual(
        ahead.events.map((e) => e._tag === "Candle" && e.candle.closed),
        [false]
      )
      const moved = yield* run(
        [
          [
            opened(T0),
            message(candlesFrame(0, T0 + 1_000, [candle("BTC-USD", 0)])),
            // Only another product traded, but the candles channel itself is now ten minutes on.
            message(candlesFrame(1, T0 + tenMinutes, [candle("SOL-USD", 10)]))
          ]
        ],
        { symbols: ["BTC-USD"] }
      )
      assert.deepStrictEqual(
        moved.events.map((e) => e._tag === "Candle" && e.candle.closed),
        [false, true]
      )
    })
  )

  it.live("tickers become Ticker events at the envelope time", () =>
    Effect.gen(function* () {
      const tickerFrame = frame("ticker", 1, T0 + 5_000, [
        {
          type: "update",
          tickers: [
            { type: "ticker", product_id: "ETH-USD", price: "3200.5", volume_24_h: "1000", best_bid: "3200.4", best_ask: "3200.6" }
          ]
        }
      ])
      const { events } = yield* run([[opened(T0), message(tickerFrame)]], { symbols: ["ETH-USD"], tickers: true })
      assert.deepStrictEqual(tags(events), ["Ticker"])
      const event = events[0]!
      if (event._tag !== "Ticker") return
      assert.deepStrictEqual(
        [event.ticker.symbol, event.ticker.price, event.ticker.bestBid, event.ticker.bestAsk, event.ticker.time],
        [ETH, 3200.5, 3200.4, 3200.6, T0 + 5_000]
      )
    })
  )

  it.live("a sequence_num jump is a Gap for the connection's symbols; older numbers are ignored", () =>
    Effect.gen(function* () {
      const { events } = yield* run(
        [
          [
            opened(T0),
            message(heartbeatFrame(0, T0, 1)),
            message(heartbeatFrame(1, T0 + 1_000, 2)),
            message(candlesFrame(4, T0 + 2_000, [candle("BTC-USD", 0)])),
            message(candlesFrame(3, T0 + 1_500, [candle("BTC-USD", 0, 95)])),
            message(heartbeatFrame(5, T0 + 3_000, 3))
          ]
        ],
        { symbols: ["BTC-USD", "ETH-USD"] }
      )
      assert.deepStrictEqual(tags(events), ["Gap", "Candle"])
      const gap = events[0]!
      if (gap._tag !== "Gap") return
      assert.strictEqual(gap.reason, "sequence")
      assert.deepStrictEqual(gap.symbols, [BTC, ETH])
      // The out-of-order frame (3, after 4) was dropped: the candle kept its newer close.
      const c = events[1]!
      assert.isTrue(c._tag === "Candle" && c.candle.close === 100)
    })
  )

  it.live("a heartbeat_counter jump (string or integer counters) is a Gap with reason heartbeat", () =>
    Effect.gen(function* () {
      const { events } = yield* run(
        [
          [
            opened(T0),
            message(heartbeatFrame(0, T0, "41")),
            message(heartbeatFrame(1, T0 + 1_000, 42)),
            message(heartbeatFrame(2, T0 + 2_000, "45"))
          ]
        ],
        { symbols: ["BTC-USD"] }
      )
      assert.deepStrictEqual(
        events.map((e) => (e._tag === "Gap" ? e.reason : e._tag)),
        ["heartbeat"]
      )
    })
  )

  it.live("a reconnect is Reconnected with downSince; counters restart with the new connection", () =>
    Effect.gen(function* () {
      const { events } = yield* run(
        [
          [
            opened(T0),
            message(heartbeatFrame(7, T0, 100)),
            message(heartbeatFrame(8, T0 + 1_000, 101)),
            opened(T0 + 9_000, T0 + 2_000),
            message(heartbeatFrame(0, T0 + 9_500, 1)),
            message(heartbeatFrame(1, T0 + 10_500, 2))
          ]
        ],
        { symbols: ["BTC-USD"] }
      )
      assert.deepStrictEqual(tags(events), ["Reconnected"])
      const event = events[0]!
      if (event._tag !== "Reconnected") return
      assert.deepStrictEqual([event.symbols, event.downSince, event.at], [[BTC], T0 + 2_000, T0 + 9_000])
    })
  )

  it.live("malformed frames are counted and skipped, never fatal; error frames are not malformed", () =>
    Effect.gen(function* () {
      const { events, malformed } = yield* run(
        [
          [
            opened(T0),
            message("\u0000garbage"),
            message(candlesFrame(0, T0, [{ ...candle("BTC-USD", 0), high: 50 }])),
            message('{"channel":"candles","sequence_num":1}'),
            message(JSON.stringify({ type: "error", message: "failure to subscribe" })),
            message(candlesFrame(1, T0 + 1_000, [candle("BTC-USD", 0)]))
          ]
        ],
        { symbols: ["BTC-USD"] }
      )
      assert.strictEqual(malformed, 3)
      assert.deepStrictEqual(tags(events), ["Candle"])
    })
  )

  it.live("a connection that gives up fails the stream with Disconnected", () =>
    Effect.gen(function* () {
      const malformedFrames = yield* Ref.make(0)
      const exit = yield* CoinbaseSocket.stream(
        {
          exchange: row,
          config: CoinbaseConfig.make({ maxReconnectAttempts: 2 }),
          malformedFrames,
          connect: (options) => {
            assert.strictEqual(options.maxAttempts, 2)
            return Stream.fail(new ExchangeError.Disconnected({ exchange: "sim_coinbase", reason: "gave up" }))
          }
        },
        { symbols: [BTC], timeframes: ["5m"], tickers: false }
      ).pipe(Stream.runDrain, Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isSuccess(exit)) return
      assert.match(String(exit.cause), /Disconnected/)
    })
  )
})
