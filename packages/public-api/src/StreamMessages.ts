/**
 * The messages of the public stream `/public/v1/stream` (domain.md §8), one JSON object per WebSocket text
 * frame, told apart by `type`. Client messages are decoded with these schemas; server messages are what these
 * schemas encode, and the AsyncAPI document (`AsyncApi`) is generated from them. Payloads are the REST DTOs
 * (`PublicDto`): built by whitelisting, never the internal records.
 */
import { Schema } from "effect"
import { PublicCandle, PublicSignal } from "./PublicDto.js"

/** Longest topic accepted (a valid one is far shorter). */
export const maxTopicLength = 128

/** Longest client message accepted, in characters. */
export const maxClientMessageLength = 4096

const topicExamples = ["candles:BTCUSDT:1h", "binance:signals:BTCUSDT:1h"] as const

export const Topic = Schema.String.pipe(Schema.maxLength(maxTopicLength)).annotations({
  identifier: "Topic",
  description:
    "What to receive: `candles:{symbol}:{timeframe}` (closed OHLCV candles) or `signals:{symbol}:{timeframe}` " +
    "(generic trade signals), optionally prefixed with the exchange name (`binance:candles:BTCUSDT:1h`). The " +
    "prefix may be left out only while the server serves a single exchange. Symbols and exchange names are " +
    "those of the REST API; timeframes are 5m, 15m, 1h, 4h and 1d.",
  examples: topicExamples
})

/** The exchange-prefixed form of a topic, as every server message names it. */
const CanonicalTopic = Schema.String.annotations({
  identifier: "CanonicalTopic",
  description: "The topic with its exchange prefix, `{exchange}:{candles|signals}:{symbol}:{timeframe}`",
  examples: ["binance:candles:BTCUSDT:1h"]
})

/** A non-negative integer, described inline in the JSON Schema (no `$ref` beside the description). */
const count = (description: string, example: number) =>
  Schema.Number.pipe(
    Schema.filter((n) => Number.isSafeInteger(n) && n >= 0, {
      message: () => "a non-negative integer",
      jsonSchema: { type: "integer", minimum: 0, description, examples: [example] }
    })
  ).annotations({ description, examples: [example] })

const Seq = count(
  "Position of the message in its subscription: the snapshot is 0 and each later message of the topic is " +
    "exactly one more. A jump means messages were lost: subscribe to the topic again to resynchronise.",
  12
)

// ---------------------------------------------------------------------------------------------------------
// Client → server

export const Subscribe = Schema.Struct({
  type: Schema.Literal("subscribe"),
  topic: Topic
}).annotations({
  identifier: "Subscribe",
  title: "subscribe",
  description:
    "Start receiving a topic: answered by `subscribed`, then a snapshot (seq 0), then every update in order. " +
    "Subscribing again to a topic already subscribed restarts it with a fresh snapshot (the way to resynchronise).",
  examples: [{ type: "subscribe", topic: "candles:BTCUSDT:1h" }]
})
export type Subscribe = typeof Subscribe.Type

export const Unsubscribe = Schema.Struct({
  type: Schema.Literal("unsubscribe"),
  topic: Topic
}).annotations({
  identifier: "Unsubscribe",
  title: "unsubscribe",
  description: "Stop receiving a topic: answered by `unsubscribed`; nothing of the topic follows it.",
  examples: [{ type: "unsubscribe", topic: "candles:BTCUSDT:1h" }]
})
export type Unsubscribe = typeof Unsubscribe.Type

export const ClientPing = Schema.Struct({ type: Schema.Literal("ping") }).annotations({
  identifier: "ClientPing",
  title: "ping (client)",
  description: "Optional: ask whether the server is alive; answered by `pong`.",
  examples: [{ type: "ping" }]
})

export const ClientPong = Schema.Struct({ type: Schema.Literal("pong") }).annotations({
  identifier: "ClientPong",
  title: "pong (client)",
  description:
    "The answer to the server's `ping`. A connection that has not answered a ping when the next one is due is " +
    "closed with code 4000.",
  examples: [{ type: "pong" }]
})

/** Every message a client may send. */
export const ClientMessage = Schema.Union(Subscribe, Unsubscribe, ClientPing, ClientPong).annotations({
  identifier: "ClientMessage"
})
export type ClientMessage = typeof ClientMessage.Type

/** The `type`s of `ClientMessage`. */
export const clientTypes: ReadonlyArray<ClientMessage["type"]> = ["subscribe", "unsubscribe", "ping", "pong"]

// ---------------------------------------------------------------------------------------------------------
// Server → client

export const Welcome = Schema.Struct({
  type: Schema.Literal("welcome"),
  connectionId: Schema.String.annotations({
    description: "Id of this connection, for support requests",
    examples: ["6f1c2d0e-8a4b-4f7e-9a53-3c1de2b0c8aa"]
  }),
  pingIntervalSeconds: Schema.Number.annotations({
    description: "How often the server pings; answer each ping with a pong before the next one",
    examples: [30]
  }),
  queueLimit: count("Messages that may wait for this connection before it is closed as a slow consumer (4008)", 1000),
  maxSubscriptions: count("Most topics one connection may subscribe to at once", 200)
}).annotations({
  identifier: "Welcome",
  title: "welcome",
  description: "The first message of every accepted connection.",
  examples: [
    {
      type: "welcome",
      connectionId: "6f1c2d0e-8a4b-4f7e-9a53-3c1de2b0c8aa",
      pingIntervalSeconds: 30,
      queueLimit: 1000,
      maxSubscriptions: 200
    }
  ]
})
export type Welcome = typeof Welcome.Type

export const Subscribed = Schema.Struct({
  type: Schema.Literal("subscribed"),
  topic: CanonicalTopic,
  requested: Schema.String.annotations({ description: "The topic as the client sent it" })
}).annotations({
  identifier: "Subscribed",
  title: "subscribed",
  description: "The subscription is in place: the snapshot (seq 0) follows, then the updates.",
  examples: [{ type: "subscribed", topic: "binance:candles:BTCUSDT:1h", requested: "candles:BTCUSDT:1h" }]
})
export type Subscribed = typeof Subscribed.Type

export const Unsubscribed = Schema.Struct({
  type: Schema.Literal("unsubscribed"),
  topic: CanonicalTopic
}).annotations({
  identifier: "Unsubscribed",
  title: "unsubscribed",
  description: "The subscription is over; nothing of the topic follows.",
  examples: [{ type: "unsubscribed", topic: "binance:candles:BTCUSDT:1h" }]
})
export type Unsubscribed = typeof Unsubscribed.Type

/** How many closed candles a candle snapshot holds at most. */
export const candleSnapshotSize = 100

export const CandleSnapshot = Schema.Struct({
  type: Schema.Literal("candle_snapshot"),
  topic: CanonicalTopic,
  seq: Seq,
  data: Schema.Array(PublicCandle).annotations({
    description: `The latest closed candles (at most ${candleSnapshotSize}), oldest first`
  })
}).annotations({
  identifier: "CandleSnapshot",
  title: "candle snapshot",
  description:
    "The recent closed candles of a candles topic: replaces whatever the client holds for the topic. Sent " +
    "after `subscribed` (seq 0), and again (next seq) if the server may have missed updates.",
  examples: [
    {
      type: "candle_snapshot",
      topic: "binance:candles:BTCUSDT:1h",
      seq: 0,
      data: [
        {
          time: "2026-11-21T13:00:00.000Z",
          open: 97250.1,
          high: 97410,
          low: 97180.5,
          close: 97333.2,
          volume: 84.213,
          closed: true,
          synthetic: false
        }
      ]
    }
  ]
})
export type CandleSnapshot = typeof CandleSnapshot.Type

export const CandleUpdate = Schema.Struct({
  type: Schema.Literal("candle_update"),
  topic: CanonicalTopic,
  seq: Seq,
  data: PublicCandle
}).annotations({
  identifier: "CandleUpdate",
  title: "candle update",
  description: "A candle just closed. Open times strictly increase within a topic.",
  examples: [
    {
      type: "candle_update",
      topic: "binance:candles:BTCUSDT:1h",
      seq: 1,
      data: {
        time: "2026-11-21T14:00:00.000Z",
        open: 97333.2,
        high: 97501,
        low: 97290,
        close: 97480.4,
        volume: 61.02,
        closed: true,
        synthetic: false
      }
    }
  ]
})
export type CandleUpdate = typeof CandleUpdate.Type

const signalExample = {
  exchange: "binance",
  symbol: "BTCUSDT",
  timeframe: "1h",
  time: "2026-11-21T13:00:00.000Z",
  momentum_signal: { direction: "bullish", strength: "moderate" },
  trend_signal: { direction: "bullish", strength: "strong" },
  quality: "live"
} as const

export const SignalSnapshot = Schema.Struct({
  type: Schema.Literal("signal_snapshot"),
  topic: CanonicalTopic,
  seq: Seq,
  data: PublicSignal
}).annotations({
  identifier: "SignalSnapshot",
  title: "signal snapshot",
  description:
    "The current trade signals of a signals topic (`quality` says whether they can be relied on yet). Sent " +
    "after `subscribed` (seq 0), and again (next seq) if the server may have missed updates.",
  examples: [{ type: "signal_snapshot", topic: "binance:signals:BTCUSDT:1h", seq: 0, data: signalExample }]
})
export type SignalSnapshot = typeof SignalSnapshot.Type

export const SignalUpdate = Schema.Struct({
  type: Schema.Literal("signal_update"),
  topic: CanonicalTopic,
  seq: Seq,
  data: PublicSignal
}).annotations({
  identifier: "SignalUpdate",
  title: "signal update",
  description:
    "The trade signals changed, normally because a candle of the timeframe closed. Each replaces the previous one.",
  examples: [{ type: "signal_update", topic: "binance:signals:BTCUSDT:1h", seq: 1, data: signalExample }]
})
export type SignalUpdate = typeof SignalUpdate.Type

export const ServerPing = Schema.Struct({ type: Schema.Literal("ping") }).annotations({
  identifier: "ServerPing",
  title: "ping (server)",
  description: "Heartbeat, every `pingIntervalSeconds`: answer with a pong before the next one or be closed (4000).",
  examples: [{ type: "ping" }]
})

export const ServerPong = Schema.Struct({ type: Schema.Literal("pong") }).annotations({
  identifier: "ServerPong",
  title: "pong (server)",
  description: "The answer to a client's ping.",
  examples: [{ type: "pong" }]
})

/** Stable codes of `error` messages. */
export const ErrorCode = Schema.Literal(
  "bad_message",
  "unknown_type",
  "bad_topic",
  "exchange_required",
  "not_found",
  "not_subscribed",
  "too_many_subscriptions",
  "busy",
  "unavailable"
).annotations({
  identifier: "StreamErrorCode",
  description:
    "`bad_message`: not a JSON object of a known shape (or too long, or binary). `unknown_type`: `type` is not " +
    "one of subscribe, unsubscribe, ping, pong. `bad_topic`: the topic does not follow the grammar. " +
    "`exchange_required`: the server serves several exchanges, prefix the topic with one. `not_found`: no such " +
    "exchange, symbol or timeframe. `not_subscribed`: unsubscribe from a topic not subscribed. " +
    "`too_many_subscriptions`: unsubscribe from something first. `busy`: messages sent faster than they are " +
    "handled, the message was dropped. `unavailable`: the data could not be read right now; retry shortly.",
  examples: ["bad_topic"]
})
export type ErrorCode = typeof ErrorCode.Type

export const ErrorMessage = Schema.Struct({
  type: Schema.Literal("error"),
  error: Schema.Struct({
    code: ErrorCode,
    message: Schema.String.annotations({ description: "What went wrong and how to fix the message" })
  }),
  topic: Schema.optional(Schema.String.annotations({ description: "The topic of the failed message, as sent" }))
}).annotations({
  identifier: "StreamError",
  title: "error",
  description: "A client message could not be acted on. The connection stays open.",
  examples: [
    {
      type: "error",
      error: { code: "bad_topic", message: "A topic is [exchange:]candles|signals:symbol:timeframe, got \"candles:BTCUSDT\"" },
      topic: "candles:BTCUSDT"
    }
  ]
})
export type ErrorMessage = typeof ErrorMessage.Type

/** Every message the server sends. */
export const ServerMessage = Schema.Union(
  Welcome,
  Subscribed,
  Unsubscribed,
  CandleSnapshot,
  CandleUpdate,
  SignalSnapshot,
  SignalUpdate,
  ServerPing,
  ServerPong,
  ErrorMessage
).annotations({ identifier: "ServerMessage" })
export type ServerMessage = typeof ServerMessage.Type

/**
 * Close codes the server uses. 1000-range codes keep their WebSocket meaning (1001, 1005 or 1006 when a server
 * stops: reconnect with back-off).
 */
export const CloseCode = {
  /** The client did not answer a ping before the next one was due. */
  heartbeatTimeout: 4000,
  /** More messages waited for the client than `queueLimit`: it reads too slowly. */
  slowConsumer: 4008,
  /** The key already has its maximum of concurrent connections (across every server). */
  tooManyConnections: 4029
} as const
