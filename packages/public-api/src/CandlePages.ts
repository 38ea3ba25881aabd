/**
 * Candle pages as the public API sends them, encoded once and shared by every request for the same page for a
 * short while (`PublicApiConfig.cacheTtl`, default 1 second) — a popular chart asked for by many clients costs
 * one cache read and one encode per second, not one per request.
 *
 * Freshness: a page is keyed by its series' version, which a closed candle of that series bumps as its
 * publication arrives (one pattern subscription per process), so a close is never hidden behind a copy; the
 * forming candle and backfilled history, which are not published, are at most `cacheTtl` old. A page read while a
 * close arrives is stored under the old version and never served after it. Losing the subscription bumps every
 * version, and it is taken again.
 */
import { Bus, type CacheError, CandleCache, Keys } from "@livermore/cache"
import type { Exchange, Market, Timeframe } from "@livermore/domain"
import { Context, Duration, Effect, Layer, Schedule, Schema, Stream } from "effect"
import * as TtlMemo from "./internal/TtlMemo.js"
import { PublicApiConfig } from "./PublicApiConfig.js"
import * as Mapping from "./PublicMapping.js"

/** One page of one series: the candles with open times in `[from, upper]`, newest `limit` of them. */
export interface PageRequest {
  readonly exchangeId: Exchange.ExchangeId
  readonly symbol: Market.SymbolId
  readonly timeframe: Timeframe.Timeframe
  readonly from: number
  readonly upper: number
  readonly limit: number
  /** Makes the cursor of the next page (its argument: the open time of the oldest candle on this page). */
  readonly cursor: (oldestOpenTime: number) => string
  /** Identifies the cursor's query (what `cursor` encodes besides the open time). */
  readonly cursorQuery: string
}

export class CandlePages extends Context.Tag("@livermore/public-api/CandlePages")<
  CandlePages,
  {
    /** The page's response body (`{ data, meta }` as JSON, UTF-8). */
    readonly get: (request: PageRequest) => Effect.Effect<Uint8Array, CacheError.CacheError>
  }
>() {}

/** The most pages kept; at the default limit (100 candles) a page is about 12 kB. */
export const capacity = 500

const seriesName = (exchangeId: number, symbol: string, timeframe: string): string => `${exchangeId}:${symbol}:${timeframe}`

const encoder = new TextEncoder()

export const layer = Layer.scoped(
  CandlePages,
  Effect.gen(function* () {
    const candles = yield* CandleCache.CandleCache
    const bus = yield* Bus.Bus
    const { cacheTtl } = yield* PublicApiConfig

    const encode = (request: PageRequest) =>
      candles
        // One more than the page says whether an older page exists.
        .newestInRange(
          { exchangeId: request.exchangeId, symbol: request.symbol, timeframe: request.timeframe },
          request.from,
          request.upper,
          request.limit + 1
        )
        .pipe(
          Effect.map((found) => {
            const more = found.length > request.limit
            const page = more ? found.slice(1) : found
            const body = {
              data: page.map(Mapping.candle),
              meta: { cursor: more ? request.cursor(page[0]!.openTime) : null, hasMore: more, count: page.length }
            }
            return encoder.encode(JSON.stringify(body))
          })
        )

    if (Duration.toMillis(cacheTtl) === 0) return CandlePages.of({ get: encode })

    const versions = new Map<string, number>()
    // Added to every version: bumped when the subscription is lost, so no copy outlives a gap in the closes.
    let epoch = 0
    // Failures are not kept: the next request asks the cache again.
    const pages = TtlMemo.make<Uint8Array, CacheError.CacheError>({ timeToLiveMs: Duration.toMillis(cacheTtl), capacity })

    const onMessage = ({ channel }: Bus.ChannelMessage<unknown>) =>
      Effect.sync(() => {
        const closed = Keys.parseCandleCloseChannel(channel)
        if (closed === undefined) return
        const name = seriesName(closed.exchangeId, closed.symbol, closed.timeframe)
        versions.set(name, (versions.get(name) ?? 0) + 1)
      })
    const lost = (cause: unknown) =>
      Effect.logWarning("Candle pages: the candle-close subscription was lost; subscribing again").pipe(
        Effect.annotateLogs({ error: cause instanceof Error ? cause.message : String(cause) })
      )
    const follow = (stream: Stream.Stream<Bus.ChannelMessage<unknown>, CacheError.CacheError>) =>
      Stream.runForEach(stream, onMessage).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            epoch += 1
          })
        )
      )
    // Subscribed before the first request is served. Only the channel names are used, not the candles.
    const first = yield* bus.subscribePattern(Keys.candleClosePattern, Schema.Unknown)
    const again = Effect.scoped(Effect.flatMap(bus.subscribePattern(Keys.candleClosePattern, Schema.Unknown), follow))
    yield* follow(first).pipe(
      Effect.catchAll(lost),
      Effect.zipRight(
        again.pipe(Effect.tapError(lost), Effect.retry(Schedule.spaced("1 second")), Effect.zipRight(Effect.sleep("1 second")), Effect.forever)
      ),
      Effect.forkScoped
    )

    return CandlePages.of({
      get: (request) => {
        const series = seriesName(request.exchangeId, request.symbol, request.timeframe)
        const version = `${epoch}.${versions.get(series) ?? 0}`
        return pages.get(`${version}|${request.upper}|${request.limit}|${request.cursorQuery}`, () => encode(request))
      }
    })
  })
)
