/**
 * The public stream `/public/v1/stream` (domain.md §8): a WebSocket on which a client subscribes to candle and
 * signal topics and receives, per subscription, an acknowledgement, a snapshot and then every update in order,
 * each numbered (`seq`) so that a gap shows.
 *
 * Fan-out: one hub per process (`PublicStreamHub`, a scoped service) holds ONE pattern subscription per kind of
 * channel (closed candles, indicator updates). Each published message is decoded once (by the Bus), mapped to
 * its public DTO and serialized once — only when some client follows its topic — and the same JSON goes into the
 * queue of every subscriber. The indicator record is decoded with `PublicMapping.SignalSource` and only
 * `PublicMapping.tradeSignal` output leaves the process.
 *
 * Per connection: a bounded queue of frames; a writer that hands frames to the socket only while the socket's
 * own buffer is below its high-water mark, so frames a slow reader leaves unread pile up in the queue, and a
 * queue past `streamQueueLimit` closes the connection (4008) instead of slowing anyone else. A heartbeat pings
 * every `streamPingInterval` and closes (4000) a connection that did not answer the previous ping; the same beat
 * refreshes the connection's slot in the per-key count kept in Redis (`PublicCatalog.acquireStreamSlot`), which
 * every instance shares (at most `streamConnectionsPerKey`, the next one closed with 4029).
 */
import { HttpLayerRouter, HttpMiddleware, HttpServerRequest, HttpServerResponse, Socket } from "@effect/platform"
import { Bus, CandleCache, IndicatorStore, Keys, PublicCatalog } from "@livermore/cache"
import { type Exchange, Market, Timeframe } from "@livermore/domain"
import { Ingest } from "@livermore/engine"
import {
  Context,
  Data,
  Deferred,
  Duration,
  Effect,
  Either,
  Fiber,
  Layer,
  Option,
  ParseResult,
  Queue,
  Schedule,
  Schema,
  type Scope,
  Stream
} from "effect"
import { randomUUID } from "node:crypto"
import { IncomingMessage } from "node:http"
import type { Socket as NetSocket } from "node:net"
import * as AsyncApi from "./AsyncApi.js"
import { ApiKeyVerifier, type KeyOwner } from "./ApiKeys.js"
import { PublicApiConfig } from "./PublicApiConfig.js"
import { PublicCandle, PublicSignal } from "./PublicDto.js"
import { errorBody } from "./PublicErrors.js"
import * as Mapping from "./PublicMapping.js"
import {
  type ClientMessage,
  ClientPing,
  ClientPong,
  CloseCode,
  candleSnapshotSize,
  clientTypes,
  type ErrorCode,
  maxClientMessageLength,
  ServerMessage,
  Subscribe,
  Unsubscribe
} from "./StreamMessages.js"

export const path = "/public/v1/stream"

/** Most topics one connection may follow at once. */
export const maxSubscriptions = 200

/** Client messages that may wait to be handled before further ones are refused (`busy`). */
export const inboxLimit = 64

/** A client message that cannot be acted on: becomes an `error` message, the connection stays open. */
export class StreamRefusal extends Data.TaggedError("StreamRefusal")<{
  readonly code: ErrorCode
  readonly message: string
}> {}

const refuse = (code: ErrorCode, message: string) => new StreamRefusal({ code, message })

/** What was sent, quoted and cut short, for messages. */
const shown = (value: string): string => JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)

// ---------------------------------------------------------------------------------------------------------
// Topics

export type TopicKind = "candles" | "signals"

/** A topic as written: the grammar only, nothing looked up yet. */
export interface ParsedTopic {
  readonly exchange: string | undefined
  readonly kind: TopicKind
  readonly symbol: string
  readonly timeframe: Timeframe.Timeframe
}

const topicGrammar = /^(?:([a-z][a-z0-9_]{0,62}):)?(candles|signals):([A-Za-z0-9][A-Za-z0-9._-]{0,39}):(5m|15m|1h|4h|1d)$/

/** `[exchange:]candles|signals:symbol:timeframe`, or `bad_topic`. */
export const parseTopic = (topic: string): Either.Either<ParsedTopic, StreamRefusal> => {
  const match = topicGrammar.exec(topic)
  return match === null
    ? Either.left(
        refuse(
          "bad_topic",
          `A topic is [exchange:]candles:{symbol}:{timeframe} or [exchange:]signals:{symbol}:{timeframe} with a ` +
            `timeframe of 5m, 15m, 1h, 4h or 1d (e.g. "candles:BTCUSDT:1h"), got ${shown(topic)}`
        )
      )
    : Either.right({
        exchange: match[1],
        kind: match[2] as TopicKind,
        symbol: match[3]!,
        timeframe: match[4] as Timeframe.Timeframe
      })
}

/** The hub's key of a topic: what the channel names give (exchange id, not name). */
const topicKey = (kind: TopicKind, exchangeId: number, symbol: string, timeframe: Timeframe.Timeframe): string =>
  `${kind}|${exchangeId}|${symbol}|${timeframe}`

/** A topic resolved against the catalog. */
export interface ResolvedTopic {
  readonly kind: TopicKind
  readonly exchangeId: Exchange.ExchangeId
  readonly exchangeName: string
  readonly symbol: Market.SymbolId
  readonly timeframe: Timeframe.Timeframe
  /** `{exchange}:{kind}:{symbol}:{timeframe}`, as every server message names it. */
  readonly canonical: string
  readonly key: string
}

// ---------------------------------------------------------------------------------------------------------
// Frames

const encodeServerMessage = Schema.encodeSync(ServerMessage)

/** A control message (anything but snapshots and updates) as a frame. */
export const frame = (message: ServerMessage): string => JSON.stringify(encodeServerMessage(message))

const errorFrame = (refusal: StreamRefusal, topic?: string): string =>
  frame({
    type: "error",
    error: { code: refusal.code, message: refusal.message },
    ...(topic === undefined ? {} : { topic })
  })

const pingFrame = frame({ type: "ping" })
const pongFrame = frame({ type: "pong" })

const encodeCandle = Schema.encodeSync(PublicCandle)
const encodeCandles = Schema.encodeSync(Schema.Array(PublicCandle))
const encodeSignal = Schema.encodeSync(PublicSignal)

/**
 * A snapshot or an update: the DTO's JSON is made once per published message and shared by every subscriber;
 * only the envelope (topic, seq) is per subscription. The result is what `ServerMessage` encodes.
 */
const dataFrame = (type: string, topicJson: string, seq: number, dataJson: string): string =>
  `{"type":"${type}","topic":${topicJson},"seq":${seq},"data":${dataJson}}`

const parseJson = Schema.decodeUnknownEither(Schema.parseJson())
const decodeType = Schema.decodeUnknownEither(Schema.Struct({ type: Schema.String }))
const decoders = {
  subscribe: Schema.decodeUnknownEither(Subscribe),
  unsubscribe: Schema.decodeUnknownEither(Unsubscribe),
  ping: Schema.decodeUnknownEither(ClientPing),
  pong: Schema.decodeUnknownEither(ClientPong)
} as const

const example = `{"type":"subscribe","topic":"candles:BTCUSDT:1h"}`

/** A client frame's text → a `ClientMessage`, or why not (with the topic it names, when it names one). */
export const decodeClientMessage = (
  text: string
): Either.Either<ClientMessage, { readonly refusal: StreamRefusal; readonly topic?: string }> => {
  const json = parseJson(text)
  if (Either.isLeft(json)) {
    return Either.left({ refusal: refuse("bad_message", `Messages are JSON objects such as ${example}; this is not JSON`) })
  }
  const typed = decodeType(json.right)
  if (Either.isLeft(typed)) {
    return Either.left({
      refusal: refuse("bad_message", `A message is a JSON object with a string "type", such as ${example}`)
    })
  }
  const type = typed.right.type
  const topic =
    typeof json.right === "object" && json.right !== null && "topic" in json.right && typeof json.right.topic === "string"
      ? json.right.topic
      : undefined
  const named = topic === undefined ? {} : { topic }
  if (!(clientTypes as ReadonlyArray<string>).includes(type)) {
    return Either.left({
      refusal: refuse("unknown_type", `Unknown message type ${shown(type)}; the types are ${clientTypes.join(", ")}`),
      ...named
    })
  }
  const decoded: Either.Either<ClientMessage, ParseResult.ParseError> = decoders[type as ClientMessage["type"]](json.right)
  if (Either.isLeft(decoded)) {
    const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
    const where = issue === undefined || issue.path.length === 0 ? "" : ` at "${issue.path.join(".")}"`
    return Either.left({
      refusal: refuse("bad_message", `Invalid ${type} message${where}: ${issue?.message ?? "does not match its schema"}`),
      ...named
    })
  }
  return Either.right(decoded.right)
}

// ---------------------------------------------------------------------------------------------------------
// Connections and subscriptions

/** Why the server closes a connection. */
export interface Close {
  readonly code: number
  readonly reason: string
}

/** One accepted stream connection, as the hub sees it. */
export class Connection {
  /** Subscriptions by topic key. */
  readonly subscriptions = new Map<string, Subscription>()
  /** Whether the client answered the last ping. */
  answered = true
  private closing = false

  constructor(
    readonly id: string,
    readonly keyId: number,
    private readonly queue: Queue.Queue<string>,
    private readonly terminate: Deferred.Deferred<Close>
  ) {}

  /** Queue a frame; when the queue is full the client reads too slowly, and is closed instead (4008). */
  send(frame: string): void {
    if (this.closing) return
    if (!Queue.unsafeOffer(this.queue, frame)) {
      this.close({ code: CloseCode.slowConsumer, reason: "slow consumer: too many messages waiting to be read" })
    }
  }

  /** Ask the connection's session to close with `close` (once; later requests are ignored). */
  close(close: Close): void {
    if (this.closing) return
    this.closing = true
    Deferred.unsafeDone(this.terminate, Effect.succeed(close))
  }

  get isClosing(): boolean {
    return this.closing
  }
}

/** A published message of a topic, mapped and serialized once. `time`: the open time it is about (-1: none). */
interface Item {
  readonly time: number
  readonly json: string
}

interface Subscription {
  readonly connection: Connection
  readonly topic: Topic
  /** The seq of the last message sent (-1 before the snapshot). */
  seq: number
  lastTime: number
  lastJson: string | undefined
  /** Updates held while the snapshot is read; undefined when none is being read. */
  pending: Array<Item> | undefined
  active: boolean
}

interface Topic {
  readonly resolved: ResolvedTopic
  readonly topicJson: string
  readonly subscribers: Set<Subscription>
}

/** What a snapshot read found. */
interface Snapshot {
  readonly json: string
  readonly time: number
}

// ---------------------------------------------------------------------------------------------------------
// The hub

export class PublicStreamHub extends Context.Tag("@livermore/public-api/PublicStreamHub")<
  PublicStreamHub,
  {
    /** Resolve a topic against the catalog: the exchange (default or named), and for `subscribe` the symbol and timeframe. */
    readonly resolve: (topic: string, check: "subscribe" | "unsubscribe") => Effect.Effect<ResolvedTopic, StreamRefusal>
    /** Register `connection`: nothing is delivered to a connection the hub does not know. */
    readonly attach: (connection: Connection) => Effect.Effect<void>
    /**
     * Subscribe (or re-subscribe, which restarts the topic): `subscribed`, then the snapshot, then the updates.
     * A snapshot that cannot be read ends the subscription with an `unavailable` error.
     */
    readonly subscribe: (connection: Connection, topic: ResolvedTopic, requested: string) => Effect.Effect<void>
    /** End a subscription; false when there was none. */
    readonly unsubscribe: (connection: Connection, topic: ResolvedTopic) => Effect.Effect<boolean>
    /** Forget `connection` and all of its subscriptions. */
    readonly detach: (connection: Connection) => Effect.Effect<void>
    /** Connections, topics followed and subscriptions of this process. */
    readonly stats: Effect.Effect<{ readonly connections: number; readonly topics: number; readonly subscriptions: number }>
  }
>() {}

/** Back-off of the upstream pattern subscriptions after a lost connection: 200 ms doubling, at most 5 s. */
const upstreamRetry = Schedule.exponential("200 millis").pipe(Schedule.union(Schedule.spaced("5 seconds")))

/**
 * A hub for a node that does not serve the stream: no subscriptions, no connections. It is there only so that a
 * node composed with the stream route switched off needs no Redis subscriptions; mounting the route over it is a
 * defect, and each use says so.
 */
export const layerHubOff: Layer.Layer<PublicStreamHub> = Layer.succeed(
  PublicStreamHub,
  (() => {
    const off = Effect.dieMessage("The public stream is not served by this node (its hub is off)")
    return PublicStreamHub.of({
      resolve: () => off,
      attach: () => off,
      subscribe: () => off,
      unsubscribe: () => off,
      detach: () => off,
      stats: Effect.succeed({ connections: 0, topics: 0, subscriptions: 0 })
    })
  })()
)

/**
 * The hub: subscribes to both channel patterns while the layer is being built (so that nothing published after
 * it is up is missed) and dispatches until the layer's scope closes.
 */
export const layerHub: Layer.Layer<
  PublicStreamHub,
  never,
  Bus.Bus | CandleCache.CandleCache | IndicatorStore.IndicatorStore | PublicCatalog.PublicCatalog
> = Layer.scoped(
  PublicStreamHub,
  Effect.gen(function* () {
    const bus = yield* Bus.Bus
    const candles = yield* CandleCache.CandleCache
    const indicators = yield* IndicatorStore.IndicatorStore
    const catalog = yield* PublicCatalog.PublicCatalog
    const scope = yield* Effect.scope
    const topics = new Map<string, Topic>()
    const connections = new Set<Connection>()

    const unavailable = (what: string) => (error: { readonly message: string }) =>
      Effect.logWarning(`Public stream: ${what} failed`, error.message).pipe(
        Effect.zipRight(Effect.fail(refuse("unavailable", `${what} is temporarily unavailable; retry shortly`)))
      )

    const resolve = Effect.fn("PublicStream.resolve")(function* (text: string, check: "subscribe" | "unsubscribe") {
      const parsed = yield* parseTopic(text)
      const rows = Option.getOrElse(
        yield* catalog.exchanges.pipe(Effect.catchAll(unavailable("The exchange list"))),
        () => [] as ReadonlyArray<PublicCatalog.CatalogExchange>
      )
      let row: PublicCatalog.CatalogExchange | undefined
      if (parsed.exchange === undefined) {
        if (rows.length !== 1) {
          return yield* refuse(
            "exchange_required",
            rows.length === 0
              ? "No exchange is served right now"
              : `Several exchanges are served (${rows.map((r) => r.name).join(", ")}): prefix the topic with one, e.g. "${rows[0]!.name}:${text}"`
          )
        }
        row = rows[0]!
      } else {
        row = rows.find((r) => r.name === parsed.exchange)
        if (row === undefined) {
          return yield* refuse("not_found", `No exchange named "${parsed.exchange}"; GET /public/v1/exchanges lists them`)
        }
      }
      let symbol = Market.SymbolId.make(parsed.symbol)
      if (check === "subscribe") {
        if (!row.timeframes.includes(parsed.timeframe)) {
          return yield* refuse("not_found", `${row.name} does not serve the ${parsed.timeframe} timeframe`)
        }
        const served = Option.getOrElse(
          yield* catalog.symbols(row.id).pipe(Effect.catchAll(unavailable("The symbol list"))),
          () => [] as ReadonlyArray<PublicCatalog.CatalogSymbol>
        )
        const found = served.find((s) => s.symbol === parsed.symbol)
        if (found === undefined) {
          return yield* refuse(
            "not_found",
            `${row.name} does not serve "${parsed.symbol}"; GET /public/v1/exchanges/${row.name}/symbols lists its symbols`
          )
        }
        symbol = found.symbol
      }
      return {
        kind: parsed.kind,
        exchangeId: row.id,
        exchangeName: row.name,
        symbol,
        timeframe: parsed.timeframe,
        canonical: `${row.name}:${parsed.kind}:${parsed.symbol}:${parsed.timeframe}`,
        key: topicKey(parsed.kind, row.id, parsed.symbol, parsed.timeframe)
      } satisfies ResolvedTopic
    })

    /** Read what a new (or resynchronising) subscriber starts from. */
    const readSnapshot = (topic: ResolvedTopic): Effect.Effect<Snapshot, StreamRefusal> => {
      const series = { exchangeId: topic.exchangeId, symbol: topic.symbol, timeframe: topic.timeframe }
      return topic.kind === "candles"
        ? candles.recent(series, candleSnapshotSize + 1).pipe(
            Effect.catchAll(unavailable("Candle history")),
            Effect.map((recent) => {
              const closed = recent.filter((c) => c.closed).slice(-candleSnapshotSize)
              return { json: JSON.stringify(encodeCandles(closed.map(Mapping.candle))), time: closed.at(-1)?.openTime ?? -1 }
            })
          )
        : indicators.get(series, Mapping.SignalSource).pipe(
            Effect.catchAll(unavailable("Signals")),
            Effect.map((found) => {
              const source = Option.getOrUndefined(found)
              const dto = Mapping.tradeSignal(topic.exchangeName, topic.symbol, topic.timeframe, source)
              return { json: JSON.stringify(encodeSignal(dto)), time: source?.lastOpenTime ?? -1 }
            })
          )
    }

    const updateType = { candles: "candle_update", signals: "signal_update" } as const
    const snapshotType = { candles: "candle_snapshot", signals: "signal_snapshot" } as const

    /**
     * Send `item` unless the subscriber already has it: candles only move forward in open time; a signal is
     * sent when it differs from the last one sent and is not older.
     */
    const deliver = (sub: Subscription, item: Item): void => {
      if (!sub.active) return
      if (item.time < sub.lastTime) return
      if (sub.topic.resolved.kind === "candles" ? item.time === sub.lastTime : item.json === sub.lastJson) return
      sub.seq += 1
      sub.lastTime = item.time
      sub.lastJson = item.json
      sub.connection.send(dataFrame(updateType[sub.topic.resolved.kind], sub.topic.topicJson, sub.seq, item.json))
    }

    /**
     * Hand `item` to every subscriber of `topic` (made only when there is one). A candle more than one timeframe
     * after the subscriber's last means closes were lost upstream (a Redis connection blip): that subscriber
     * holds the item and is returned, to get a fresh snapshot, which the cache has complete, instead.
     */
    const offer = (topic: Topic, item: () => Item): ReadonlyArray<Subscription> => {
      if (topic.subscribers.size === 0) return []
      const made = item()
      const { kind, timeframe } = topic.resolved
      const gapped: Array<Subscription> = []
      for (const sub of topic.subscribers) {
        if (sub.pending !== undefined) sub.pending.push(made)
        else if (kind === "candles" && sub.lastTime >= 0 && made.time > sub.lastTime + Timeframe.durationMs[timeframe]) {
          sub.pending = [made]
          gapped.push(sub)
        } else deliver(sub, made)
      }
      return gapped
    }

    const remove = (sub: Subscription): void => {
      sub.active = false
      sub.topic.subscribers.delete(sub)
      if (sub.topic.subscribers.size === 0) topics.delete(sub.topic.resolved.key)
      if (sub.connection.subscriptions.get(sub.topic.resolved.key) === sub) {
        sub.connection.subscriptions.delete(sub.topic.resolved.key)
      }
    }

    /**
     * Read the snapshot of `topic` for `subs` and send it, then what was published meanwhile (held in `pending`
     * from before the read, so nothing falls between the snapshot and the first update; what the snapshot
     * already holds is not sent again).
     */
    const prime = (topic: Topic, subs: ReadonlyArray<Subscription>) =>
      Effect.gen(function* () {
        for (const sub of subs) sub.pending ??= []
        const snapshot = yield* Effect.either(readSnapshot(topic.resolved))
        for (const sub of subs) {
          const held = sub.pending ?? []
          sub.pending = undefined
          if (!sub.active) continue
          if (Either.isLeft(snapshot)) {
            remove(sub)
            sub.connection.send(errorFrame(snapshot.left, topic.resolved.canonical))
            continue
          }
          // A later snapshot older than what the subscriber already holds would take it back in time.
          if (sub.seq < 0 || snapshot.right.time >= sub.lastTime) {
            sub.seq += 1
            sub.lastTime = snapshot.right.time
            sub.lastJson = snapshot.right.json
            sub.connection.send(dataFrame(snapshotType[topic.resolved.kind], topic.topicJson, sub.seq, snapshot.right.json))
          }
          for (const item of held) deliver(sub, item)
        }
      })

    /** After the upstream subscription was lost and taken again: every subscriber gets a fresh snapshot. */
    const resynchronise = (kind: TopicKind) =>
      Effect.forEach(
        [...topics.values()].filter((topic) => topic.resolved.kind === kind),
        (topic) => prime(topic, [...topic.subscribers]),
        { concurrency: 8, discard: true }
      )

    const onCandle = ({ channel, value }: Bus.ChannelMessage<Ingest.CandleClosed>) =>
      Effect.suspend(() => {
        const at = Keys.parseCandleCloseChannel(channel)
        if (at === undefined || !value.candle.closed) return Effect.void
        const topic = topics.get(topicKey("candles", at.exchangeId, at.symbol, at.timeframe))
        if (topic === undefined) return Effect.void
        const gapped = offer(topic, () => ({
          time: value.candle.openTime,
          json: JSON.stringify(encodeCandle(Mapping.candle(value.candle)))
        }))
        return gapped.length === 0 ? Effect.void : Effect.asVoid(Effect.forkIn(prime(topic, gapped), scope))
      })

    const onIndicator = ({ channel, value }: Bus.ChannelMessage<Mapping.SignalSource>) =>
      Effect.sync(() => {
        const at = Keys.parseIndicatorChannel(channel)
        if (at === undefined) return
        const topic = topics.get(topicKey("signals", at.exchangeId, at.symbol, at.timeframe))
        if (topic === undefined) return
        const { exchangeName, symbol, timeframe } = topic.resolved
        offer(topic, () => ({
          time: value.lastOpenTime ?? -1,
          json: JSON.stringify(encodeSignal(Mapping.tradeSignal(exchangeName, symbol, timeframe, value)))
        }))
      })

    /**
     * Follow `pattern`: subscribed now (in the layer's scope); when that subscription is lost, subscribed again
     * with back-off, and every subscriber of the kind resynchronised with a fresh snapshot.
     */
    const follow = <A, I>(
      kind: TopicKind,
      pattern: string,
      schema: Schema.Schema<A, I>,
      onMessage: (message: Bus.ChannelMessage<A>) => Effect.Effect<void>
    ) =>
      Effect.gen(function* () {
        // A message that cannot be dispatched is logged and skipped: it must not end the feed of every client.
        const dispatch = (message: Bus.ChannelMessage<A>) =>
          onMessage(message).pipe(
            Effect.catchAllCause((cause) =>
              Effect.logError("Public stream: a message could not be dispatched", cause).pipe(
                Effect.annotateLogs({ channel: message.channel })
              )
            )
          )
        const first = yield* bus.subscribePattern(pattern, schema)
        const lost = (error: unknown) =>
          Effect.logWarning("Public stream: the upstream subscription was lost; subscribing again").pipe(
            Effect.annotateLogs({ pattern, error: error instanceof Error ? error.message : String(error) })
          )
        const again = Effect.scoped(
          Effect.gen(function* () {
            const stream = yield* bus.subscribePattern(pattern, schema)
            yield* resynchronise(kind)
            yield* Stream.runForEach(stream, dispatch)
          })
        )
        yield* Stream.runForEach(first, dispatch).pipe(
          Effect.catchAll(lost),
          Effect.zipRight(
            again.pipe(
              Effect.tapError(lost),
              Effect.retry(upstreamRetry),
              Effect.zipRight(Effect.sleep("1 second")),
              Effect.forever
            )
          ),
          Effect.forkScoped
        )
      }).pipe(Effect.orDie)

    yield* follow("candles", Keys.candleClosePattern, Ingest.CandleClosed, onCandle)
    yield* follow("signals", Keys.indicatorPattern, Mapping.SignalSource, onIndicator)

    return PublicStreamHub.of({
      resolve,
      attach: (connection) => Effect.sync(() => void connections.add(connection)),
      subscribe: Effect.fn("PublicStream.subscribe")(function* (
        connection: Connection,
        resolved: ResolvedTopic,
        requested: string
      ) {
        if (!connections.has(connection) || connection.isClosing) return
        const previous = connection.subscriptions.get(resolved.key)
        if (previous === undefined && connection.subscriptions.size >= maxSubscriptions) {
          connection.send(
            errorFrame(
              refuse("too_many_subscriptions", `A connection may follow at most ${maxSubscriptions} topics; unsubscribe from one first`),
              requested
            )
          )
          return
        }
        if (previous !== undefined) remove(previous)
        let topic = topics.get(resolved.key)
        if (topic === undefined) {
          topic = { resolved, topicJson: JSON.stringify(resolved.canonical), subscribers: new Set() }
          topics.set(resolved.key, topic)
        }
        const sub: Subscription = {
          connection,
          topic,
          seq: -1,
          lastTime: -1,
          lastJson: undefined,
          pending: [],
          active: true
        }
        topic.subscribers.add(sub)
        connection.subscriptions.set(resolved.key, sub)
        connection.send(frame({ type: "subscribed", topic: resolved.canonical, requested }))
        yield* prime(topic, [sub])
      }),
      unsubscribe: (connection, resolved) =>
        Effect.sync(() => {
          const sub = connection.subscriptions.get(resolved.key)
          if (sub === undefined) return false
          remove(sub)
          return true
        }),
      detach: (connection) =>
        Effect.sync(() => {
          connections.delete(connection)
          for (const sub of [...connection.subscriptions.values()]) remove(sub)
        }),
      stats: Effect.sync(() => ({
        connections: connections.size,
        topics: topics.size,
        subscriptions: [...topics.values()].reduce((n, topic) => n + topic.subscribers.size, 0)
      }))
    })
  })
)

// ---------------------------------------------------------------------------------------------------------
// The route

/** The TCP socket under an upgraded Node request, for its write buffer; none on other servers. */
const transportOf = (request: HttpServerRequest.HttpServerRequest): NetSocket | undefined =>
  request.source instanceof IncomingMessage ? request.source.socket : undefined

/** Wait until the socket's write buffer drained below its high-water mark (or the socket closed). */
const drained = (socket: NetSocket): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (!socket.writableNeedDrain || socket.destroyed) return resume(Effect.void)
    const done = () => {
      socket.off("drain", done)
      socket.off("close", done)
      resume(Effect.void)
    }
    socket.on("drain", done)
    socket.on("close", done)
    return Effect.sync(() => {
      socket.off("drain", done)
      socket.off("close", done)
    })
  })

const refusal = (status: number, code: string, message: string) =>
  HttpServerResponse.unsafeJson(errorBody(code, message), { status })

/** The API key of an upgrade request: the `X-API-Key` header, else the `api_key` query parameter (browsers). */
const apiKeyOf = (request: HttpServerRequest.HttpServerRequest): string => {
  const header = request.headers["x-api-key"]
  if (header !== undefined && header !== "") return header
  return new URL(request.url, "http://localhost").searchParams.get("api_key") ?? ""
}

/** The stream route; needs the hub, the verifier, the config and the catalog (for the connection slots). */
export const route: Layer.Layer<
  never,
  never,
  HttpLayerRouter.HttpRouter | PublicStreamHub | ApiKeyVerifier | PublicApiConfig | PublicCatalog.PublicCatalog
> = Layer.unwrapEffect(
  Effect.gen(function* () {
    const hub = yield* PublicStreamHub
    const verifier = yield* ApiKeyVerifier
    const config = yield* PublicApiConfig
    const catalog = yield* PublicCatalog.PublicCatalog
    const pingInterval = config.streamPingInterval
    // A slot outlives three missed beats: enough for a busy instance, short enough for a crashed one's to free.
    const slotTtl = Duration.times(pingInterval, 3)
    const welcome = (connectionId: string) =>
      frame({
        type: "welcome",
        connectionId,
        pingIntervalSeconds: Duration.toSeconds(pingInterval),
        queueLimit: config.streamQueueLimit,
        maxSubscriptions
      })

    /** Handle one client message, in arrival order. */
    const handle = Effect.fn("PublicStream.message")(function* (connection: Connection, text: string) {
        const decoded = decodeClientMessage(text)
        if (Either.isLeft(decoded)) {
          connection.send(errorFrame(decoded.left.refusal, decoded.left.topic))
          return
        }
        const message = decoded.right
        switch (message.type) {
          case "ping":
            return connection.send(pongFrame)
          case "pong":
            connection.answered = true
            return
          case "subscribe": {
            const resolved = yield* Effect.either(hub.resolve(message.topic, "subscribe"))
            if (Either.isLeft(resolved)) return connection.send(errorFrame(resolved.left, message.topic))
            return yield* hub.subscribe(connection, resolved.right, message.topic)
          }
          case "unsubscribe": {
            const resolved = yield* Effect.either(hub.resolve(message.topic, "unsubscribe"))
            if (Either.isLeft(resolved)) return connection.send(errorFrame(resolved.left, message.topic))
            const removed = yield* hub.unsubscribe(connection, resolved.right)
            return connection.send(
              removed
                ? frame({ type: "unsubscribed", topic: resolved.right.canonical })
                : errorFrame(refuse("not_subscribed", `Not subscribed to ${resolved.right.canonical}`), message.topic)
            )
          }
        }
    })

    /** An accepted connection, until either side closes it. */
    const session = Effect.fn("PublicStream.session")(function* (
      socket: Socket.Socket,
      owner: KeyOwner,
      connectionId: string,
      transport: NetSocket | undefined
    ) {
      const write = yield* socket.writer
      const queue = yield* Queue.dropping<string>(config.streamQueueLimit)
      const inbox = yield* Queue.dropping<string>(inboxLimit)
      const terminate = yield* Deferred.make<Close>()
      const connection = new Connection(connectionId, owner.keyId, queue, terminate)
      yield* hub.attach(connection)
      yield* Effect.addFinalizer(() => hub.detach(connection))
      connection.send(welcome(connectionId))

      // Writes wait for the handshake (runRaw below), so these fibers start now and block until it is done.
      const writer = yield* Effect.forkScoped(
        Effect.forever(
          Effect.gen(function* () {
            if (transport?.writableNeedDrain) yield* drained(transport)
            const frames = yield* Queue.takeBetween(queue, 1, 64)
            for (const f of frames) yield* write(f)
          })
        )
      )
      yield* Effect.forkScoped(
        Effect.forever(
          Effect.flatMap(Queue.take(inbox), (text) =>
            handle(connection, text).pipe(
              Effect.catchAllCause((cause) => Effect.logError("Public stream: a client message failed", cause))
            )
          )
        )
      )
      // The heartbeat: ping (straight to the socket, not behind queued data), and keep the slot alive.
      yield* Effect.forkScoped(
        Effect.gen(function* () {
          while (true) {
            yield* Effect.sleep(pingInterval)
            if (!connection.answered) {
              return connection.close({ code: CloseCode.heartbeatTimeout, reason: "heartbeat timeout: no pong to the last ping" })
            }
            connection.answered = false
            yield* Effect.ignore(write(pingFrame))
            yield* catalog.refreshStreamSlot(owner.keyId, connectionId, slotTtl).pipe(
              Effect.catchAll((error) => Effect.logWarning("Public stream: could not refresh a connection slot", error.message))
            )
          }
        })
      )

      const onFrame = (data: string | Uint8Array): void => {
        if (typeof data !== "string") {
          connection.send(errorFrame(refuse("bad_message", "Binary frames are not accepted; send JSON text")))
        } else if (data.length > maxClientMessageLength) {
          connection.send(
            errorFrame(refuse("bad_message", `A message is at most ${maxClientMessageLength} characters, got ${data.length}`))
          )
        } else if (!Queue.unsafeOffer(inbox, data)) {
          connection.send(errorFrame(refuse("busy", "Too many messages in flight; the message was dropped, slow down")))
        }
      }

      // The server's side of a close: stop writing, say why, end the session (the socket finishes the closing
      // handshake, or gives up on a peer that never answers, on its own).
      const closer = Effect.gen(function* () {
        const close = yield* Deferred.await(terminate)
        yield* Fiber.interrupt(writer)
        yield* Effect.ignore(write(new Socket.CloseEvent(close.code, close.reason)))
        yield* Effect.logInfo(`Public stream: closing a connection (${close.code} ${close.reason})`)
      })

      yield* Effect.raceFirst(
        socket.runRaw(onFrame).pipe(Effect.catchTag("SocketError", () => Effect.void)),
        closer
      )
    }, (effect, _socket, owner, connectionId) =>
      Effect.annotateLogs(effect, { connectionId, keyId: owner.keyId }))

    /** Accept the upgrade only to say, with a close code a browser can read, that the key has no slot left. */
    const refuseSlot = (socket: Socket.Socket) =>
      Effect.gen(function* () {
        const write = yield* socket.writer
        yield* socket
          .runRaw(() => {}, {
            onOpen: Effect.ignore(
              write(
                new Socket.CloseEvent(
                  CloseCode.tooManyConnections,
                  `too many connections: at most ${config.streamConnectionsPerKey} per key`
                )
              )
            )
          })
          .pipe(Effect.timeout("5 seconds"), Effect.ignore)
      })

    // The access log would carry the URL, and with it a key sent as `api_key`.
    const handler: Effect.Effect<
      HttpServerResponse.HttpServerResponse,
      never,
      HttpServerRequest.HttpServerRequest | Scope.Scope
    > = Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const rawKey = apiKeyOf(request)
      if (rawKey.trim() === "") {
        return refusal(401, "unauthorized", "An API key is required: the X-API-Key header or the api_key query parameter")
      }
      const owner = yield* Effect.either(verifier.verify(rawKey))
      if (Either.isLeft(owner)) {
        return owner.left._tag === "Unauthorized"
          ? refusal(401, "unauthorized", owner.left.message)
          : refusal(503, "unavailable", owner.left.message)
      }
      if ((request.headers.upgrade ?? "").toLowerCase() !== "websocket") {
        return refusal(426, "upgrade_required", `${path} is a WebSocket: connect with a WebSocket client`)
      }
      const connectionId = randomUUID()
      const slot = yield* Effect.acquireRelease(
        Effect.either(
          catalog.acquireStreamSlot(owner.right.keyId, connectionId, config.streamConnectionsPerKey, slotTtl)
        ),
        (taken) =>
          Either.isRight(taken) && taken.right
            ? catalog.releaseStreamSlot(owner.right.keyId, connectionId).pipe(
                Effect.catchAll((error) => Effect.logWarning("Public stream: could not release a connection slot", error.message))
              )
            : Effect.void
      )
      if (Either.isLeft(slot)) {
        yield* Effect.logWarning("Public stream: the connection count is unavailable", slot.left.message)
        return refusal(503, "unavailable", "The stream is temporarily unavailable; retry shortly")
      }
      const socket = yield* Effect.either(request.upgrade)
      if (Either.isLeft(socket)) return refusal(400, "bad_request", "The WebSocket upgrade failed")
      if (!slot.right) yield* refuseSlot(socket.right)
      else yield* session(socket.right, owner.right, connectionId, transportOf(request))
      return HttpServerResponse.empty()
    }).pipe(HttpMiddleware.withLoggerDisabled)

    return HttpLayerRouter.add("GET", path, handler)
  })
)

/**
 * The stream and its AsyncAPI document, beside `PublicRoutes.layer` on the same router, with the hub started
 * once. Needs the verifier, the config, the cache services it reads (candles, indicator records, catalog) and
 * the Bus.
 */
export const layer = Layer.mergeAll(route, AsyncApi.route).pipe(Layer.provide(layerHub))
