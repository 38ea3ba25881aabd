/**
 * The live Coinbase stream: one or more `ReconnectingSocket`s on the row's `wsUrl`, each subscribing `candles`
 * (its share of the products), `ticker` when wanted and always `heartbeats`, one channel per message
 * (exchanges.md §2.1). Frames are decoded, checked for `sequence_num` and heartbeat-counter jumps, and turned
 * into `MarketEvent`s; malformed frames are counted and skipped. 5m candles are closed, and higher timeframes
 * built, by `CoinbaseCandleTracker`.
 */
import type { Candle, Exchange, Market } from "@livermore/domain"
import { type ExchangeAdapter, type ExchangeError, MarketEvent, ReconnectingSocket } from "@livermore/exchange"
import { Array as Arr, Clock, Effect, Either, Queue, Ref, Stream } from "effect"
import * as CandleTracker from "./CoinbaseCandleTracker.js"
import type { CoinbaseConfig } from "./CoinbaseConfig.js"
import * as Messages from "./CoinbaseMessages.js"
import * as Parse from "./CoinbaseParse.js"
import type * as ExchangeClock from "./internal/exchangeClock.js"

/** Coinbase's documented cap on client messages per second per IP (exchanges.md §2.1). */
export const maxClientMessagesPerSecond = 8

/** What the stream needs besides the subscription. */
export interface Options {
  readonly exchange: Exchange.Exchange
  readonly config: CoinbaseConfig
  /** Counter of malformed frames skipped, shared with the adapter's `malformedFrames`. */
  readonly malformedFrames: Ref.Ref<number>
  /** The exchange clock shared with the REST client, set from every frame's timestamp; none when left out. */
  readonly clock?: ExchangeClock.ExchangeClock | undefined
  /** Opens a connection; `ReconnectingSocket.make` unless a test scripts the frames. */
  readonly connect?:
    | ((options: ReconnectingSocket.Options) => Stream.Stream<ReconnectingSocket.SocketEvent, ExchangeError.Disconnected>)
    | undefined
}

/** Room for events the consumer has not taken yet; past it, reading the sockets waits (back-pressure). */
const bufferSize = 4096

/**
 * The subscribe frames for one connection, in the order sent: `candles` (when any timeframe is wanted), `ticker`
 * (when wanted), then `heartbeats` — always, so quiet products do not idle out and silence means a dead link.
 */
export const subscribeFrames = (
  symbols: ReadonlyArray<string>,
  options: { readonly candles: boolean; readonly tickers: boolean }
): ReadonlyArray<string> => [
  ...(options.candles ? [Messages.subscribeFrame({ type: "subscribe", channel: "candles", product_ids: symbols })] : []),
  ...(options.tickers ? [Messages.subscribeFrame({ type: "subscribe", channel: "ticker", product_ids: symbols })] : []),
  Messages.subscribeFrame({ type: "subscribe", channel: "heartbeats" })
]

/** Per-connection bookkeeping; reset on every (re)connect since both counters are per connection. */
interface ConnectionState {
  lastSequence: number | undefined
  lastHeartbeat: number | undefined
}

/**
 * Live events for `subscription`, until interrupted. Products are spread over connections of at most
 * `apiLimits.wsMaxStreamsPerConnection` each, sharing the per-IP client message rate. Fails only when a
 * connection gives up reconnecting (`Disconnected`).
 */
export const stream = (
  options: Options,
  subscription: ExchangeAdapter.Subscription
): Stream.Stream<MarketEvent.MarketEvent, ExchangeError.ExchangeError> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const { exchange, config } = options
      const symbols = Arr.dedupe(subscription.symbols)
      const wantCandles = subscription.timeframes.length > 0
      if (symbols.length === 0 || (!wantCandles && !subscription.tickers)) return Stream.never

      const out = yield* Effect.acquireRelease(Queue.bounded<MarketEvent.MarketEvent>(bufferSize), Queue.shutdown)
      const emit = (events: ReadonlyArray<MarketEvent.MarketEvent>) => Effect.asVoid(Queue.offerAll(out, events))
      const tracker = yield* CandleTracker.make({ timeframes: subscription.timeframes, grace: config.closeGrace, emit })
      const observe = (exchangeTime: number) =>
        options.clock === undefined ? Effect.void : options.clock.observe(exchangeTime)

      const groups = Arr.chunksOf(symbols, Math.max(1, exchange.apiLimits.wsMaxStreamsPerConnection))
      const perConnection = Math.max(
        1,
        Math.floor(Math.min(exchange.apiLimits.wsMessagesPerSecond, maxClientMessagesPerSecond) / groups.length)
      )

      const connection = (group: ReadonlyArray<Market.SymbolId>, index: number) => {
        const bySymbol = new Map<string, Market.SymbolId>(group.map((s) => [s, s]))
        const state: ConnectionState = { lastSequence: undefined, lastHeartbeat: undefined }
        const frames = subscribeFrames(group, { candles: wantCandles, tickers: subscription.tickers })

        const malformed = (text: string, cause: unknown) =>
          Ref.update(options.malformedFrames, (n) => n + 1).pipe(
            Effect.zipRight(
              Effect.logDebug("Coinbase: malformed frame skipped").pipe(
                Effect.annotateLogs({ excerpt: Parse.excerpt(text), cause: String(cause) })
              )
            )
          )

        const gap = (reason: "sequence" | "heartbeat") =>
          Effect.gen(function* () {
            const at = yield* Clock.currentTimeMillis
            yield* Effect.logWarning("Coinbase: messages lost without a disconnect").pipe(
              Effect.annotateLogs({ reason })
            )
            yield* tracker.disrupt(group)
            yield* emit([MarketEvent.MarketEvent.Gap({ symbols: group, reason, at })])
          })

        const onCandles = (text: string, message: Messages.CoinbaseCandlesMessage) =>
          Effect.gen(function* () {
            const updates: Array<{ symbol: Market.SymbolId; candle: Candle.Candle }> = []
            for (const event of message.events) {
              for (const wire of event.candles) {
                const symbol = bySymbol.get(wire.product_id)
                if (symbol === undefined) continue
                const parsed = Parse.candle(wire, false)
                // One inconsistent candle makes the frame malformed: none of it is trusted.
                if (Either.isLeft(parsed)) return yield* malformed(text, parsed.left)
                updates.push({ symbol, candle: parsed.right })
              }
            }
            yield* tracker.ingest(updates, message.timestamp)
          })

        const onTicker = (text: string, message: Messages.CoinbaseTickerMessage) =>
          Effect.gen(function* () {
            if (!subscription.tickers) return
            const events: Array<MarketEvent.MarketEvent> = []
            for (const event of message.events) {
              for (const wire of event.tickers) {
                if (!bySymbol.has(wire.product_id)) continue
                const parsed = Parse.ticker(wire, message.timestamp)
                if (Either.isLeft(parsed)) return yield* malformed(text, parsed.left)
                events.push(MarketEvent.MarketEvent.Ticker({ ticker: parsed.right }))
              }
            }
            yield* emit(events)
          })

        const onHeartbeats = (message: Messages.CoinbaseHeartbeatsMessage, sequenceGap: boolean) =>
          Effect.gen(function* () {
            for (const event of message.events) {
              const counter = event.heartbeat_counter
              const last = state.lastHeartbeat
              // A sequence gap in the same frame already reported this loss.
              if (last !== undefined && counter > last + 1 && !sequenceGap) yield* gap("heartbeat")
              if (last === undefined || counter > last) state.lastHeartbeat = counter
            }
          })

        const onMessage = (text: string) =>
          Effect.gen(function* () {
            const decoded = Messages.decodeServerMessage(text)
            if (Either.isLeft(decoded)) return yield* malformed(text, decoded.left)
            const message = decoded.right
            if (message instanceof Messages.CoinbaseErrorMessage) {
              return yield* Effect.logWarning("Coinbase: error frame").pipe(
                Effect.annotateLogs({ message: message.message })
              )
            }
            const last = state.lastSequence
            // Lower or repeated numbers are out of order: older than what was already applied, so ignored.
            if (last !== undefined && message.sequence_num <= last) return
            const sequenceGap = last !== undefined && message.sequence_num > last + 1
            state.lastSequence = message.sequence_num
            yield* observe(message.timestamp)
            if (sequenceGap) yield* gap("sequence")
            if (message instanceof Messages.CoinbaseCandlesMessage) return yield* onCandles(text, message)
            if (message instanceof Messages.CoinbaseTickerMessage) return yield* onTicker(text, message)
            if (message instanceof Messages.CoinbaseHeartbeatsMessage) return yield* onHeartbeats(message, sequenceGap)
            if (message instanceof Messages.CoinbaseSubscriptionsMessage) {
              return yield* Effect.logDebug("Coinbase: subscriptions acknowledged").pipe(
                Effect.annotateLogs({ subscriptions: JSON.stringify(message.events) })
              )
            }
          })

        const onEvent = (event: ReconnectingSocket.SocketEvent): Effect.Effect<void> => {
          if (event._tag === "Message") return onMessage(event.text)
          // Forming candles stop closing by time now, not only once the reconnect reports the outage.
          if (event._tag === "Lost") {
            return Effect.zipRight(
              tracker.disrupt(group, event.since),
              emit([MarketEvent.MarketEvent.Disconnected({ symbols: group, since: event.since, reason: event.reason })])
            )
          }
          state.lastSequence = undefined
          state.lastHeartbeat = undefined
          if (event.downSince === undefined) return Effect.void
          const downSince = event.downSince
          return Effect.gen(function* () {
            yield* Effect.logInfo("Coinbase: reconnected, subscriptions replayed").pipe(
              Effect.annotateLogs({ downMs: event.at - downSince })
            )
            yield* tracker.disrupt(group, downSince)
            yield* emit([MarketEvent.MarketEvent.Reconnected({ symbols: group, downSince, at: event.at })])
          })
        }

        const connect = options.connect ?? ReconnectingSocket.make
        return connect({
          exchange: exchange.name,
          url: exchange.wsUrl,
          onConnect: Effect.succeed(frames),
          outboundPerSecond: perConnection,
          idleTimeout: config.idleTimeout,
          backoff: { initial: config.reconnectInitial, max: config.reconnectMax },
          maxAttempts: config.maxReconnectAttempts
        }).pipe(
          Stream.mapEffect((event) =>
            onEvent(event).pipe(Effect.annotateLogs({ exchange: exchange.name, connection: index }))
          ),
          Stream.drain,
          Stream.withSpan("CoinbaseSocket.connection", { attributes: { exchange: exchange.name, connection: index } })
        )
      }

      const connections = Stream.mergeAll(
        groups.map((group, index) => connection(group, index)),
        { concurrency: "unbounded" }
      )
      return Stream.fromQueue(out).pipe(Stream.merge(connections))
    })
  )
