/**
 * The Binance live stream: kline and ticker streams over `ReconnectingSocket` connections, sharded so no
 * connection carries more streams than the row allows, subscribed in batches within the inbound message rate,
 * recycled before the venue's connection cut and on `serverShutdown`. Malformed frames are counted and skipped.
 */
import type { Exchange, Market } from "@livermore/domain"
import type { ExchangeAdapter, ExchangeError } from "@livermore/exchange"
import { MarketEvent, ReconnectingSocket } from "@livermore/exchange"
import { Clock, Duration, Effect, Either, Option, Ref, Stream } from "effect"
import type { Settings } from "./BinanceConfig.js"
import * as BinanceParse from "./BinanceParse.js"

/** The streams one connection carries, and the symbols they belong to (named in its `Reconnected` events). */
export interface Shard {
  readonly symbols: ReadonlyArray<Market.SymbolId>
  readonly streams: ReadonlyArray<string>
}

/**
 * Packs each symbol's streams into connections of at most `maxStreams` streams. A symbol's streams stay on one
 * connection whenever they fit, so a reconnect names exactly the symbols that lost data.
 */
export const planShards = (
  entries: ReadonlyArray<{ readonly symbol: Market.SymbolId; readonly streams: ReadonlyArray<string> }>,
  maxStreams: number
): ReadonlyArray<Shard> => {
  const shards: Array<Shard> = []
  let symbols: Array<Market.SymbolId> = []
  let streams: Array<string> = []
  const flush = () => {
    if (streams.length > 0) shards.push({ symbols, streams })
    symbols = []
    streams = []
  }
  for (const entry of entries) {
    if (streams.length + entry.streams.length > maxStreams) flush()
    for (const stream of entry.streams) {
      // Only a symbol with more streams than a connection may carry is split across connections.
      if (streams.length >= maxStreams) flush()
      if (symbols[symbols.length - 1] !== entry.symbol) symbols.push(entry.symbol)
      streams.push(stream)
    }
  }
  flush()
  return shards
}

/** The shards of a subscription: distinct symbols, each with its kline streams and (if asked) its ticker. */
export const shardsOf = (subscription: ExchangeAdapter.Subscription, maxStreams: number): ReadonlyArray<Shard> => {
  const timeframes = [...new Set(subscription.timeframes)]
  return planShards(
    [...new Set(subscription.symbols)].map((symbol) => ({
      symbol,
      streams: BinanceParse.streamsOf(symbol, timeframes, subscription.tickers)
    })),
    maxStreams
  )
}

/**
 * SUBSCRIBE messages for `streams`, `perMessage` stream names each: Binance counts every inbound message against
 * its 5/s limit, so streams are batched rather than sent one by one.
 */
export const subscribeMessages = (
  streams: ReadonlyArray<string>,
  perMessage: number,
  firstId: number
): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (let i = 0; i < streams.length; i += perMessage) {
    out.push(JSON.stringify({ method: "SUBSCRIBE", params: streams.slice(i, i + perMessage), id: firstId + out.length }))
  }
  return out
}

/**
 * Frames per second the adapter sends: one below the row's limit, because the pong frames `ws` sends for
 * Binance's pings count against the same limit (exchanges.md §1.1).
 */
export const outboundPerSecond = (exchange: Exchange.Exchange): number =>
  Math.max(1, exchange.apiLimits.wsMessagesPerSecond - 1)

/**
 * Connection lifetime before a proactive reconnect: the row's `wsMaxConnectionHours` less `recycleMargin`
 * (23.5 h on Binance's 24 h cut), never less than 90 % of the cut; none when the venue has no cut.
 */
export const maxLifetime = (exchange: Exchange.Exchange, settings: Settings): Duration.Duration | undefined =>
  Option.match(exchange.apiLimits.wsMaxConnectionHours, {
    onNone: () => undefined,
    onSome: (hours) => {
      const cut = Duration.hours(hours)
      const floor = Duration.times(cut, 0.9)
      const recycled = Duration.subtract(cut, settings.recycleMargin)
      return Duration.greaterThan(recycled, floor) ? recycled : floor
    }
  })

/** The combined-stream endpoint of a row's WebSocket URL. */
export const streamUrl = (exchange: Exchange.Exchange): string => `${exchange.wsUrl.replace(/\/+$/, "")}/stream`

/** What the live stream needs from the adapter. */
export interface Options {
  readonly exchange: Exchange.Exchange
  readonly settings: Settings
  /** Malformed frames skipped, counted across every connection of the adapter. */
  readonly malformedFrames: Ref.Ref<number>
}

/** A serverShutdown notice travelling with the events until the connection is replaced. */
interface ShutdownNotice {
  readonly _tag: "ServerShutdown"
  readonly at: number
}

/** The live stream of a subscription (see `ExchangeAdapter.stream`). */
export const make =
  (options: Options) =>
  (subscription: ExchangeAdapter.Subscription): Stream.Stream<MarketEvent.MarketEvent, ExchangeError.ExchangeError> => {
    const { exchange, settings, malformedFrames } = options
    const name = exchange.name
    const shards = shardsOf(subscription, exchange.apiLimits.wsMaxStreamsPerConnection)
    // Nothing to carry: no connection is opened, and the stream waits to be interrupted like a live one.
    if (shards.length === 0) return Stream.never

    const log = (effect: Effect.Effect<void>) => Effect.annotateLogs(effect, { exchange: name })

    const onText = (text: string): Effect.Effect<ReadonlyArray<MarketEvent.MarketEvent | ShutdownNotice>> =>
      Either.match(BinanceParse.frameFromText(name, text), {
        onLeft: (error) =>
          Ref.update(malformedFrames, (n) => n + 1).pipe(
            Effect.zipRight(log(Effect.logDebug("skipped a malformed frame", error.message))),
            Effect.as([])
          ),
        onRight: (frame) => {
          switch (frame._tag) {
            case "Event":
              return Effect.succeed([frame.event])
            case "Shutdown":
              // The outage is timed on the local clock, like `Opened.at`, not by the server's event time.
              return log(Effect.logInfo("serverShutdown received; reconnecting")).pipe(
                Effect.zipRight(Clock.currentTimeMillis),
                Effect.map((at) => [{ _tag: "ServerShutdown", at } as const])
              )
            case "Ack":
              return Effect.succeed([])
            case "Refused":
              return Effect.as(log(Effect.logWarning(`control message refused: ${frame.code} ${frame.msg}`)), [])
          }
        }
      })

    const shardStream = (shard: Shard): Stream.Stream<MarketEvent.MarketEvent, ExchangeError.ExchangeError> => {
      let nextId = 1
      const socket = ReconnectingSocket.make({
        exchange: name,
        url: streamUrl(exchange),
        // Re-evaluated on every connect: subscriptions do not survive a connection (exchanges.md §4.2).
        onConnect: Effect.sync(() => {
          const messages = subscribeMessages(shard.streams, settings.streamsPerSubscribe, nextId)
          nextId += messages.length
          return messages
        }),
        outboundPerSecond: outboundPerSecond(exchange),
        idleTimeout: settings.idleTimeout,
        maxLifetime: maxLifetime(exchange, settings),
        backoff: settings.backoff,
        maxAttempts: settings.maxConnectAttempts
      })

      // One connection's life; on serverShutdown it is closed and a fresh one opened at once, and that one's
      // first `Opened` reports the shutdown as the start of the outage (the old server may stop at any moment).
      const connection = (downSinceShutdown: number | undefined): Stream.Stream<MarketEvent.MarketEvent, ExchangeError.ExchangeError> =>
        Stream.suspend(() => {
          let pending = downSinceShutdown
          let shutdownAt: number | undefined
          return socket.pipe(
            Stream.mapConcatEffect((event) => {
              if (event._tag === "Message") return onText(event.text)
              if (event._tag === "Lost") {
                return Effect.succeed([
                  MarketEvent.MarketEvent.Disconnected({ symbols: shard.symbols, since: event.since, reason: event.reason })
                ])
              }
              const downSince = event.downSince ?? pending
              pending = undefined
              return Effect.succeed(
                downSince === undefined
                  ? []
                  : [MarketEvent.MarketEvent.Reconnected({ symbols: shard.symbols, downSince, at: event.at })]
              )
            }),
            Stream.takeUntil((out) => out._tag === "ServerShutdown"),
            Stream.filterMap((out) => {
              if (out._tag !== "ServerShutdown") return Option.some(out)
              shutdownAt = out.at
              return Option.none()
            }),
            Stream.concat(Stream.suspend(() => (shutdownAt === undefined ? Stream.empty : connection(shutdownAt))))
          )
        })

      return connection(undefined)
    }

    return Stream.mergeAll(shards.map(shardStream), { concurrency: "unbounded" })
  }
