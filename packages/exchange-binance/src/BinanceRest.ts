/**
 * The Binance REST client for market data: paginated kline history, the product list and 24 h volumes. Every
 * request goes through the exchange's `RestGovernor` (weights, `X-MBX-USED-WEIGHT-1M`, 429/418), and every body
 * is decoded with a Schema, so a format change surfaces as `DecodeError` rather than as wrong numbers.
 */
import { HttpClientError, HttpClientRequest } from "@effect/platform"
import type { HttpClient } from "@effect/platform"
import type { Candle, Exchange, Market } from "@livermore/domain"
import { Timeframe } from "@livermore/domain"
import type { ExchangeAdapter } from "@livermore/exchange"
import { ExchangeError, RestGovernor } from "@livermore/exchange"
import { Clock, Context, Duration, Effect, Either, Layer, Option, Schema, SynchronizedRef } from "effect"
import type { Settings } from "./BinanceConfig.js"
import { BinanceConfig } from "./BinanceConfig.js"
import * as BinanceMessages from "./BinanceMessages.js"
import * as BinanceParse from "./BinanceParse.js"
import { decoder, parseJson } from "./internal/decode.js"

/** The header in which Binance reports the weight it has counted this minute (exchanges.md §1.6). */
export const usedWeightHeader = "x-mbx-used-weight-1m"

/** Strips trailing slashes so `${base}${path}` never doubles one. */
export const baseUrl = (url: string): string => url.replace(/\/+$/, "")

// ---------------------------------------------------------------------------------------------------------------
// Pagination (pure)

/** Open times `history` may return: closed candles only, within the requested range. */
export interface Window {
  /** First open time, aligned (the range's `from` rounded up). */
  readonly first: number
  /** Last open time, aligned: the range's `to` rounded down, but never past the last closed candle at `now`. */
  readonly last: number
}

/**
 * The window of closed candles of `timeframe` with open times in `[from, to]` at `now`; none when it is
 * empty. The candle containing `now` is still forming, so the last closed one opens one interval before it.
 */
export const closedWindow = (
  timeframe: Timeframe.Timeframe,
  range: { readonly from: number; readonly to: number },
  now: number
): Option.Option<Window> => {
  const first = Timeframe.isAligned(timeframe, range.from) ? range.from : Timeframe.nextBoundary(timeframe, range.from)
  const last = Math.min(Timeframe.floor(timeframe, range.to), Timeframe.lastClosedOpenTime(timeframe, now))
  return first <= last ? Option.some({ first, last }) : Option.none()
}

/** Query parameters of one `GET /api/v3/klines` page. */
export interface PageParams {
  readonly startTime: number
  readonly endTime: number
  readonly limit: number
}

/**
 * The page starting at open time `start` and ending with the window's last candle. `endTime` is that candle's
 * close time (open + interval − 1 ms): whether Binance bounds rows by open or by close time (the docs leave it
 * open), the last wanted candle is included and the next one is not.
 */
export const pageParams = (timeframe: Timeframe.Timeframe, start: number, window: Window, limit: number): PageParams => ({
  startTime: start,
  endTime: window.last + Timeframe.durationMs[timeframe] - 1,
  limit
})

/**
 * Where the next page starts after a page whose last row opened at `lastOpenTime`, or none when the window is
 * covered: a short page (fewer than `limit` rows) is the end of the data, and a page that does not advance
 * must not be requested again.
 */
export const nextPageStart = (
  timeframe: Timeframe.Timeframe,
  window: Window,
  page: { readonly rows: number; readonly limit: number; readonly start: number; readonly lastOpenTime: number | undefined }
): Option.Option<number> => {
  if (page.rows < page.limit || page.lastOpenTime === undefined || page.lastOpenTime < page.start) return Option.none()
  const next = page.lastOpenTime + Timeframe.durationMs[timeframe]
  return next <= window.last ? Option.some(next) : Option.none()
}

/**
 * The closed candles of one page, in window and in strictly increasing open-time order after `after` (the last
 * open time already taken). Drops the still-forming kline (close time not yet passed at `now`), anything outside
 * the window, and repeats.
 */
export const closedRows = (
  rows: ReadonlyArray<BinanceMessages.KlineRow>,
  window: Window,
  now: number,
  after: number
): ReadonlyArray<BinanceMessages.KlineRow> => {
  const out: Array<BinanceMessages.KlineRow> = []
  let previous = after
  for (const row of rows) {
    const [openTime, , , , , , closeTime] = row
    if (openTime < window.first || openTime > window.last || openTime <= previous) continue
    // Binance's close time is open + interval − 1 ms: the kline is final only once `now` is past it.
    if (closeTime >= now) continue
    out.push(row)
    previous = openTime
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

/**
 * The Binance error body behind a failed request, when the governor kept the response (`ResponseError`) or the
 * body (text or object) as the failure's cause.
 */
export const errorBodyOf = (error: ExchangeError.RequestFailed): Effect.Effect<Option.Option<BinanceMessages.ErrorBody>> => {
  const decodeBody = Schema.decodeUnknownOption(BinanceMessages.ErrorBody)
  const fromText = (text: string) =>
    Either.match(parseJson(text, "", ""), { onLeft: () => Option.none(), onRight: decodeBody })
  const cause = error.cause
  if (HttpClientError.isHttpClientError(cause) && cause._tag === "ResponseError") {
    return cause.response.text.pipe(Effect.map(fromText), Effect.orElseSucceed(() => Option.none()))
  }
  if (typeof cause === "string") return Effect.succeed(fromText(cause))
  return Effect.succeed(decodeBody(cause))
}

/** A 400 with code -1121 ("Invalid symbol.") becomes `UnknownSymbol`; every other failure passes through. */
const unknownSymbolOn =
  (exchange: string, symbol: string) =>
  <A>(effect: Effect.Effect<A, ExchangeError.ExchangeError>): Effect.Effect<A, ExchangeError.ExchangeError> =>
    Effect.catchTag(
      effect,
      "RequestFailed",
      (e): Effect.Effect<never, ExchangeError.ExchangeError> =>
        e.status !== 400
          ? Effect.fail(e)
          : Effect.flatMap(errorBodyOf(e), (body): Effect.Effect<never, ExchangeError.ExchangeError> =>
              Option.isSome(body) && body.value.code === BinanceMessages.ErrorCode.InvalidSymbol
                ? Effect.fail(new ExchangeError.UnknownSymbol({ exchange, symbol }))
                : Effect.fail(e)
            )
    )

// ---------------------------------------------------------------------------------------------------------------
// Client

/** The governor of one Binance exchange, shared by every REST caller of it (market data and account). */
export class Governor extends Context.Tag("@livermore/exchange-binance/BinanceRest/Governor")<
  Governor,
  RestGovernor.RestGovernor
>() {}

/** The governor options for an exchange row: its per-minute budget and Binance's used-weight header. */
export const governorOptions = (exchange: Exchange.Exchange, settings: Settings): RestGovernor.Options => ({
  exchange: exchange.name,
  weightPerMinute: exchange.apiLimits.restWeightPerMinute,
  maxConcurrency: settings.restConcurrency,
  usedWeightHeader,
  maxRetries: settings.maxRetries
})

/** A governor for `exchange`, living as long as the layer; its budget comes from the row's `apiLimits`. */
export const layerGovernor = (exchange: Exchange.Exchange): Layer.Layer<Governor, never, HttpClient.HttpClient> =>
  Layer.scoped(
    Governor,
    Effect.flatMap(BinanceConfig, (settings) => RestGovernor.make(governorOptions(exchange, settings)))
  )

/** Market-data REST calls of one exchange. */
export interface BinanceRest {
  /** Closed candles with open times in `[from, to]`, oldest first (see `ExchangeAdapter.history`). */
  readonly history: (
    symbol: Market.SymbolId,
    timeframe: Timeframe.Timeframe,
    range: { readonly from: number; readonly to: number }
  ) => Effect.Effect<ReadonlyArray<Candle.Candle>, ExchangeError.ExchangeError>
  /** `GET /api/v3/exchangeInfo`, decoded. */
  readonly exchangeInfo: Effect.Effect<BinanceMessages.ExchangeInfo, ExchangeError.ExchangeError>
  /** TRADING products of `exchangeInfo`. */
  readonly products: Effect.Effect<ReadonlyArray<Market.Product>, ExchangeError.ExchangeError>
  /** 24 h volumes of every TRADING product. */
  readonly volumes24h: Effect.Effect<ReadonlyArray<ExchangeAdapter.Volume24h>, ExchangeError.ExchangeError>
}

/** Sends `request` through the governor and decodes its JSON body with `schema`. */
export const send = <A, I>(
  governor: RestGovernor.RestGovernor,
  exchange: string,
  what: string,
  request: HttpClientRequest.HttpClientRequest,
  weight: number,
  schema: Schema.Schema<A, I>
): Effect.Effect<A, ExchangeError.ExchangeError> => {
  const decode = decoder(schema, exchange, what)
  return governor.execute(request, weight).pipe(
    Effect.flatMap((response) =>
      Effect.mapError(response.text, (cause) => new ExchangeError.RequestFailed({ exchange, request: what, cause }))
    ),
    Effect.flatMap((text) => Either.flatMap(parseJson(text, exchange, what), decode))
  )
}

/** The exchange's clock: the local clock plus an offset measured with `GET /api/v3/time`. */
export interface ServerClock {
  /** The exchange's time now, ms since the epoch. */
  readonly now: Effect.Effect<number, ExchangeError.ExchangeError>
  /** Forget the offset, so the next `now` measures it again (after the server refused a timestamp). */
  readonly resync: Effect.Effect<void>
}

/**
 * A server clock for `exchange`. The offset is measured on first use and again once it is older than
 * `settings.timeSyncInterval`, one measurement at a time; if a re-measurement fails the previous offset is kept.
 * Binance's kline closes and signed-request windows are in the server's time, so a skewed local clock (or a
 * simulator running at another time) must not decide either.
 */
export const makeServerClock = (options: {
  readonly exchange: Exchange.Exchange
  readonly governor: RestGovernor.RestGovernor
  readonly settings: Settings
}): Effect.Effect<ServerClock> =>
  Effect.gen(function* () {
    const { exchange, governor, settings } = options
    const ttl = Duration.toMillis(settings.timeSyncInterval)
    const measure = send(
      governor,
      exchange.name,
      "GET /api/v3/time",
      HttpClientRequest.get(`${baseUrl(exchange.restUrl)}/api/v3/time`),
      settings.weights.time,
      BinanceMessages.ServerTime
    ).pipe(
      // The server stamped its time before the response reached us, so this offset errs early by the latency:
      // a kline stays "forming" a few ms longer rather than closing too soon.
      Effect.zipWith(Clock.currentTimeMillis, (body, local) => ({ offset: body.serverTime - local, measuredAt: local }))
    )
    const state = yield* SynchronizedRef.make(Option.none<{ readonly offset: number; readonly measuredAt: number }>())
    const offset = SynchronizedRef.modifyEffect(state, (current) =>
      Effect.gen(function* () {
        const local = yield* Clock.currentTimeMillis
        if (Option.isSome(current) && local - current.value.measuredAt < ttl) return [current.value.offset, current] as const
        const fresh = yield* Effect.either(measure)
        if (Either.isRight(fresh)) return [fresh.right.offset, Option.some(fresh.right)] as const
        if (Option.isNone(current)) return yield* Effect.fail(fresh.left)
        yield* Effect.logWarning(`cannot re-measure the server clock; keeping the last offset: ${fresh.left.message}`)
        return [current.value.offset, current] as const
      })
    )
    return {
      now: Effect.zipWith(offset, Clock.currentTimeMillis, (o, local) => local + o),
      resync: SynchronizedRef.set(state, Option.none())
    }
  })

/** A REST client over `governor` for the exchange row `exchange`. */
export const make = (options: {
  readonly exchange: Exchange.Exchange
  readonly governor: RestGovernor.RestGovernor
  readonly settings: Settings
  readonly clock: ServerClock
}): BinanceRest => {
  const { exchange, governor, settings, clock } = options
  const name = exchange.name
  const base = baseUrl(exchange.restUrl)
  const limit = exchange.apiLimits.candlesPerRequest

  const klinesPage = (symbol: Market.SymbolId, timeframe: Timeframe.Timeframe, params: PageParams) =>
    send(
      governor,
      name,
      "GET /api/v3/klines",
      HttpClientRequest.get(`${base}/api/v3/klines`).pipe(
        HttpClientRequest.setUrlParams({
          symbol,
          interval: BinanceParse.intervalOf(timeframe),
          startTime: params.startTime,
          endTime: params.endTime,
          limit: params.limit
        })
      ),
      settings.weights.klines,
      BinanceMessages.Klines
    ).pipe(unknownSymbolOn(name, symbol))

  const history = Effect.fn("BinanceRest.history")(function* (
    symbol: Market.SymbolId,
    timeframe: Timeframe.Timeframe,
    range: { readonly from: number; readonly to: number }
  ) {
    yield* Effect.annotateCurrentSpan({ exchange: name, symbol, timeframe, from: range.from, to: range.to })
    const now = yield* clock.now
    const window = closedWindow(timeframe, range, now)
    const candles: Array<Candle.Candle> = []
    if (Option.isNone(window)) return candles
    let start = Option.some(window.value.first)
    let after = Number.NEGATIVE_INFINITY
    while (Option.isSome(start)) {
      const rows = yield* klinesPage(symbol, timeframe, pageParams(timeframe, start.value, window.value, limit))
      for (const row of closedRows(rows, window.value, now, after)) {
        candles.push(yield* BinanceParse.candleFromRow(name, row, true))
        after = row[0]
      }
      start = nextPageStart(timeframe, window.value, {
        rows: rows.length,
        limit,
        start: start.value,
        lastOpenTime: rows[rows.length - 1]?.[0]
      })
    }
    return candles
  })

  const exchangeInfo = send(
    governor,
    name,
    "GET /api/v3/exchangeInfo",
    HttpClientRequest.get(`${base}/api/v3/exchangeInfo`),
    settings.weights.exchangeInfo,
    BinanceMessages.ExchangeInfo
  ).pipe(
    Effect.tap((info) => {
      const published = BinanceParse.requestWeightPerMinute(info)
      // The row's budget is what the governor spends; a row above what the exchange publishes means 429s.
      return Option.isSome(published) && published.value < exchange.apiLimits.restWeightPerMinute
        ? Effect.logWarning(
            `exchangeInfo publishes REQUEST_WEIGHT ${published.value}/min, below the row's ${exchange.apiLimits.restWeightPerMinute}; update the exchanges row`
          )
        : Effect.void
    }),
    Effect.withSpan("BinanceRest.exchangeInfo", { attributes: { exchange: name } })
  )

  const products = exchangeInfo.pipe(
    Effect.map(BinanceParse.productsFromExchangeInfo),
    Effect.tap(({ skipped }) =>
      skipped.length === 0
        ? Effect.void
        : Effect.logWarning(
            `skipped ${skipped.length} TRADING symbols the domain cannot carry: ${skipped
              .slice(0, 5)
              .map((s) => s.symbol)
              .join(", ")}`
          )
    ),
    Effect.map(({ products }) => products),
    Effect.withSpan("BinanceRest.products", { attributes: { exchange: name } })
  )

  const tickers24h = send(
    governor,
    name,
    "GET /api/v3/ticker/24hr",
    HttpClientRequest.get(`${base}/api/v3/ticker/24hr`),
    settings.weights.ticker24hAll,
    BinanceMessages.Tickers24h
  )

  const volumes24h = Effect.all([products, tickers24h], { concurrency: 2 }).pipe(
    Effect.map(([tradable, rows]) => BinanceParse.volumesFromTickers(rows, new Set(tradable.map((p) => p.symbol)))),
    Effect.withSpan("BinanceRest.volumes24h", { attributes: { exchange: name } })
  )

  return {
    history: (symbol, timeframe, range) =>
      history(symbol, timeframe, range).pipe(Effect.annotateLogs({ exchange: name, symbol, timeframe })),
    exchangeInfo,
    products: Effect.annotateLogs(products, { exchange: name }),
    volumes24h: Effect.annotateLogs(volumes24h, { exchange: name })
  }
}
