/**
 * Coinbase Advanced Trade public REST (exchanges.md §2.5–2.7): candle history, the product list and 24 h
 * volumes, every request through the exchange's `RestGovernor` and paced to the venue's per-second limit.
 */
import { HttpClientRequest } from "@effect/platform"
import type { HttpClient } from "@effect/platform"
import { type Candle, type Exchange, type Market, Timeframe } from "@livermore/domain"
import { CandleBuilder, type ExchangeAdapter, ExchangeError, Pagination, RestGovernor } from "@livermore/exchange"
import { Array as Arr, Clock, Duration, Effect, Either, Option, type Schema, type Scope } from "effect"
import * as CandleTracker from "./CoinbaseCandleTracker.js"
import type { CoinbaseConfig } from "./CoinbaseConfig.js"
import * as Messages from "./CoinbaseMessages.js"
import * as Parse from "./CoinbaseParse.js"
import * as ExchangeClock from "./internal/exchangeClock.js"

/** Path prefix of the Advanced Trade API under the row's `restUrl`. */
export const apiPrefix = "/api/v3/brokerage"

/** Coinbase's largest candle count per request; a wider range is refused with 400 (exchanges.md §2.5). */
export const maxCandlesPerRequest = 350

/** A public REST client of one Coinbase exchange row. */
export interface CoinbaseRest {
  /** Closed candles with open times in `[from, to]`, oldest first; see `ExchangeAdapter.history`. */
  readonly history: (
    symbol: Market.SymbolId,
    timeframe: Timeframe.Timeframe,
    range: { readonly from: number; readonly to: number }
  ) => Effect.Effect<ReadonlyArray<Candle.Candle>, ExchangeError.ExchangeError>
  /** Tradable spot products. */
  readonly products: Effect.Effect<ReadonlyArray<Market.Product>, ExchangeError.ExchangeError>
  /** 24 h volumes of tradable products. */
  readonly volumes24h: Effect.Effect<ReadonlyArray<ExchangeAdapter.Volume24h>, ExchangeError.ExchangeError>
  /** The governor's counters. */
  readonly stats: Effect.Effect<ExchangeAdapter.RestStats>
}

/** What `make` needs. */
export interface Options {
  readonly exchange: Exchange.Exchange
  readonly config: CoinbaseConfig
  /** The exchange clock shared with the live stream, deciding which candle is still forming. */
  readonly clock?: ExchangeClock.ExchangeClock | undefined
}

/**
 * 4h candles opening in `[from, to]` from the 1h candles of those buckets (domain.md §7). `CandleBuilder`
 * builds every bucket that has all four hours. Coinbase omits hours in which nothing traded, and over a fetched
 * span an omitted hour is the exchange saying so; a bucket missing only such hours is the aggregate of the hours
 * it has, as Coinbase's own candles are (trades only, never padded with carried-forward prices). A bucket with
 * no hour at all is absent, for the engine to fill.
 */
export const fourHourFromHourly = (
  hourly: ReadonlyArray<Candle.Candle>,
  from: number,
  to: number
): ReadonlyArray<Candle.Candle> => {
  const built = CandleBuilder.aggregate(hourly, from, to, { base: "1h", target: "4h" })
  const partial = built.incomplete.flatMap((bucket) => {
    const parts = hourly.filter((c) => Timeframe.floor("4h", c.openTime) === bucket.openTime)
    return parts.length === 0 ? [] : [CandleTracker.aggregate(bucket.openTime, parts, true)]
  })
  return [...built.candles, ...partial].sort((a, b) => a.openTime - b.openTime)
}

/** A 400 or 404 naming the product (Coinbase: `ProductID is invalid`, `Product ... not supported`). */
const isUnknownProduct = (error: ExchangeError.RequestFailed): boolean =>
  error.status === 404 || (error.status === 400 && /product/i.test(String(error.cause)))

/** A client living as long as the scope (its governor does). */
export const make = (options: Options): Effect.Effect<CoinbaseRest, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function* () {
    const { exchange, config } = options
    const name = exchange.name
    const base = exchange.restUrl.replace(/\/+$/, "")
    const clock = options.clock ?? ExchangeClock.make()
    const limits = exchange.apiLimits
    const perRequest = Math.min(limits.candlesPerRequest, maxCandlesPerRequest)
    const governor = yield* RestGovernor.make({
      exchange: name,
      weightPerMinute: limits.restWeightPerMinute,
      // Coinbase meters requests per second (10/s public): the governor admits at most a second's share of the
      // minute's budget, less 10%, in any rolling second, so requests held back (by a 429 pause, a stalled event
      // loop) are not released together in a burst that draws the next 429.
      weightPerSecond: Math.max(1, Math.floor((limits.restWeightPerMinute / 60) * 0.9)),
      maxConcurrency: config.restMaxConcurrency,
      maxRetries: config.restMaxRetries
    })

    // Coinbase counts requests per second (10/s public): spread the minute's budget evenly too, with 10% headroom
    // since the venue counts arrivals, which network jitter bunches.
    const spacingMs = (60_000 / limits.restWeightPerMinute) * 1.1
    let nextSlot = 0
    const pace = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const slot = Math.max(now, nextSlot)
      nextSlot = slot + spacingMs
      return slot > now ? Effect.sleep(Duration.millis(slot - now)) : Effect.void
    })

    const get = <A, I>(
      path: string,
      params: Record<string, string>,
      schema: Schema.Schema<A, I>,
      what: string
    ): Effect.Effect<A, ExchangeError.ExchangeError> =>
      Effect.gen(function* () {
        const request = HttpClientRequest.get(`${base}${path}`).pipe(
          HttpClientRequest.setUrlParams(params),
          HttpClientRequest.acceptJson
        )
        yield* pace
        const response = yield* governor.execute(request, 1)
        const text = yield* response.text.pipe(
          Effect.mapError((cause) => new ExchangeError.RequestFailed({ exchange: name, request: what, cause }))
        )
        return yield* Parse.decodeJson(schema, name, what)(text)
      })

    const candlesPath = (symbol: Market.SymbolId) =>
      `${apiPrefix}/market/products/${encodeURIComponent(symbol)}/candles`

    /** Closed candles of a natively served timeframe, window by window. */
    const fetchNative = (
      symbol: Market.SymbolId,
      timeframe: Timeframe.Timeframe,
      granularity: Messages.Granularity,
      range: { readonly from: number; readonly to: number },
      closedBy: number
    ) => {
      const duration = Timeframe.durationMs[timeframe]
      // One candle fewer than the limit per window, and `end` one bucket past it: whether Coinbase reads `end` as
      // inclusive or exclusive, the window's last candle is returned and the span never exceeds the limit.
      return Effect.forEach(Pagination.windows(timeframe, range.from, range.to, perRequest - 1), (window) =>
        get(
          candlesPath(symbol),
          {
            start: Parse.msToSecondsString(window.from),
            end: Parse.msToSecondsString(window.to + duration),
            granularity,
            limit: String(perRequest)
          },
          Messages.CoinbaseCandlesResponse,
          `GET ${apiPrefix}/market/products/{product_id}/candles`
        ).pipe(
          Effect.flatMap((response) =>
            Either.mapLeft(Parse.restCandles(response.candles, timeframe, window, closedBy), (cause) =>
              Parse.decodeError(name, "candles", response.candles.slice(0, 3), cause)
            )
          )
        )
      ).pipe(
        Effect.map(Arr.flatten),
        Effect.mapError((error): ExchangeError.ExchangeError =>
          error._tag === "RequestFailed" && isUnknownProduct(error)
            ? new ExchangeError.UnknownSymbol({ exchange: name, symbol })
            : error
        )
      )
    }

    const history = Effect.fn("CoinbaseRest.history")(function* (
      symbol: Market.SymbolId,
      timeframe: Timeframe.Timeframe,
      range: { readonly from: number; readonly to: number }
    ) {
      yield* Effect.annotateCurrentSpan({ exchange: name, symbol, timeframe, from: range.from, to: range.to })
      // A bucket is taken as closed only a grace after its end by the exchange's clock: a local clock running
      // ahead must not pass off the forming candle as final.
      const closedBy = (yield* clock.now) - Duration.toMillis(config.closeGrace)
      const to = Math.min(range.to, Timeframe.lastClosedOpenTime(timeframe, closedBy))
      if (to < range.from) return []
      const granularity = Parse.granularity(timeframe)
      if (Option.isSome(granularity)) return yield* fetchNative(symbol, timeframe, granularity.value, { from: range.from, to }, closedBy)
      // 4h: FOUR_HOUR is not served reliably (domain.md §7); fetch the whole hours of each 4h bucket and build.
      const from = Timeframe.isAligned("4h", range.from) ? range.from : Timeframe.nextBoundary("4h", range.from)
      const lastOpen = Timeframe.floor("4h", to)
      if (lastOpen < from) return []
      const hourly = yield* fetchNative(
        symbol,
        "1h",
        "ONE_HOUR",
        { from, to: lastOpen + Timeframe.durationMs["4h"] - Timeframe.durationMs["1h"] },
        closedBy
      )
      return fourHourFromHourly(hourly, from, lastOpen)
    })

    const productsPath = `${apiPrefix}/market/products`

    /** Every SPOT product, following `offset` while the server reports more than it sent. */
    const allProducts = Effect.gen(function* () {
      const out: Array<Messages.CoinbaseProduct> = []
      while (true) {
        const page = yield* get(
          productsPath,
          { product_type: "SPOT", ...(out.length === 0 ? {} : { offset: String(out.length) }) },
          Messages.CoinbaseProductsResponse,
          `GET ${productsPath}`
        )
        out.push(...page.products)
        if (page.products.length === 0 || page.num_products === undefined || out.length >= page.num_products) return out
      }
    })

    const products = Effect.gen(function* () {
      const all = yield* allProducts
      const listed = all.flatMap((p) => Option.toArray(Parse.product(p)))
      yield* Effect.logDebug("Coinbase products listed").pipe(
        Effect.annotateLogs({ exchange: name, listed: listed.length, skipped: all.length - listed.length })
      )
      return listed
    }).pipe(Effect.withSpan("CoinbaseRest.products", { attributes: { exchange: name } }))

    const volumes24h = Effect.map(allProducts, (all) => all.flatMap((p) => Option.toArray(Parse.volume24h(p)))).pipe(
      Effect.withSpan("CoinbaseRest.volumes24h", { attributes: { exchange: name } })
    )

    return { history, products, volumes24h, stats: governor.stats } satisfies CoinbaseRest
  })
