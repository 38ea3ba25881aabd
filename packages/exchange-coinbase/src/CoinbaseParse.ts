/**
 * Pure conversions from Coinbase wire values (`CoinbaseMessages`) to domain values: seconds to ms, decimal
 * strings already decoded, product tradability, REST granularities. No I/O and no clock: whether a candle is
 * closed is decided by the caller (the socket's close tracker, or the REST client comparing with `now`).
 */
import { Candle, Market, Ticker, Timeframe } from "@livermore/domain"
import { type ExchangeAdapter, ExchangeError } from "@livermore/exchange"
import { Array as Arr, Either, Option, type ParseResult, Schema } from "effect"
import type {
  CoinbaseProduct,
  CoinbaseRestCandle,
  CoinbaseWsCandle,
  CoinbaseWsTicker,
  Granularity
} from "./CoinbaseMessages.js"

/** Coinbase's only streamed candle length: 5 minutes (exchanges.md §2.3). */
export const streamedTimeframe: Timeframe.Timeframe = "5m"

/** Unix seconds (Coinbase candle `start`) to ms since the epoch. */
export const secondsToMs = (seconds: number): number => seconds * 1000

/** Ms since the epoch to the unix-seconds string Coinbase's REST parameters take. */
export const msToSecondsString = (ms: number): string => String(Math.floor(ms / 1000))

const decodeCandle = Schema.decodeUnknownEither(Candle.Candle)
const decodeSymbol = Schema.decodeUnknownEither(Market.SymbolId)
const decodeTicker = Schema.decodeUnknownEither(Ticker.Ticker)

/**
 * A wire candle (WebSocket or REST) as a domain candle opening at `start` × 1000. Fails when the values are
 * inconsistent (a low above the open, ...), which the caller treats as a malformed input.
 */
export const candle = (
  wire: CoinbaseWsCandle | CoinbaseRestCandle,
  closed: boolean
): Either.Either<Candle.Candle, ParseResult.ParseError> =>
  decodeCandle({
    openTime: secondsToMs(wire.start),
    open: wire.open,
    high: wire.high,
    low: wire.low,
    close: wire.close,
    volume: wire.volume,
    closed,
    synthetic: false
  })

/** A product id as a domain symbol, failing for ids outside the symbol character set. */
export const symbol = (productId: string): Either.Either<Market.SymbolId, ParseResult.ParseError> =>
  decodeSymbol(productId)

/**
 * A ticker item at the envelope's `timestamp` (ms). `volume_24_h` is base volume; Coinbase's ticker carries no
 * quote volume, so `quoteVolume24h` is left out rather than guessed. Best bid/ask are absent on `ticker_batch`.
 */
export const ticker = (wire: CoinbaseWsTicker, time: number): Either.Either<Ticker.Ticker, ParseResult.ParseError> =>
  decodeTicker({
    symbol: wire.product_id,
    price: wire.price,
    volume24h: wire.volume_24_h,
    ...(wire.best_bid === undefined ? {} : { bestBid: wire.best_bid }),
    ...(wire.best_ask === undefined ? {} : { bestAsk: wire.best_ask }),
    time: Math.floor(time)
  })

/**
 * Whether a product can be traded and watched: spot (when the type is given), `online`, not disabled, not
 * cancel-only or view-only, and not an alias. An alias (`BTC-USDC` with `alias: "BTC-USD"`) trades on another
 * product's book and streams that product's data, so listing both would double-count one market's volume.
 */
export const isTradable = (product: CoinbaseProduct): boolean =>
  (product.product_type === undefined || product.product_type === "SPOT") &&
  product.status === "online" &&
  !product.trading_disabled &&
  product.is_disabled !== true &&
  product.cancel_only !== true &&
  product.view_only !== true &&
  (product.alias === undefined || product.alias === "")

const decodeProduct = Schema.decodeUnknownOption(Market.Product)

/**
 * A tradable product as a domain `Product`; base and quote from `base_currency_id` / `quote_currency_id`, never
 * from splitting the id. `None` for products that are not tradable or whose id or assets do not fit the domain.
 */
export const product = (wire: CoinbaseProduct): Option.Option<Market.Product> =>
  isTradable(wire)
    ? decodeProduct({ symbol: wire.product_id, baseAsset: wire.base_currency_id, quoteAsset: wire.quote_currency_id })
    : Option.none()

const decimal = (input: string | undefined): Option.Option<number> => {
  if (input === undefined || input.trim() === "") return Option.none()
  const n = Number(input)
  return Number.isFinite(n) && n >= 0 ? Option.some(n) : Option.none()
}

/**
 * 24 h volumes of a tradable product: base from `volume_24h`, quote from `approximate_quote_24h_volume` (the
 * figure Tier 1 ranks by). `None` when the product is not tradable or either figure is missing or blank.
 */
export const volume24h = (wire: CoinbaseProduct): Option.Option<ExchangeAdapter.Volume24h> =>
  Option.all({
    product: product(wire),
    volume: decimal(wire.volume_24h),
    quoteVolume: decimal(wire.approximate_quote_24h_volume)
  }).pipe(Option.map(({ product, volume, quoteVolume }) => ({ symbol: product.symbol, volume, quoteVolume })))

/**
 * The REST granularity serving `timeframe` directly. `4h` has none: `FOUR_HOUR` is not served reliably
 * (domain.md §7), so 4h history is built from `ONE_HOUR`.
 */
export const granularity = (timeframe: Timeframe.Timeframe): Option.Option<Granularity> => {
  switch (timeframe) {
    case "5m":
      return Option.some("FIVE_MINUTE")
    case "15m":
      return Option.some("FIFTEEN_MINUTE")
    case "1h":
      return Option.some("ONE_HOUR")
    case "4h":
      return Option.none()
    case "1d":
      return Option.some("ONE_DAY")
  }
}

/**
 * REST candles of `timeframe` in `[from, to]` (ms, inclusive), oldest first, one per open time, without the
 * still-forming candle (a candle is closed once `openTime + duration <= now`). Coinbase returns them newest
 * first and leaves empty buckets out; both are normalised here, and misaligned starts are dropped.
 */
export const restCandles = (
  wire: ReadonlyArray<CoinbaseRestCandle>,
  timeframe: Timeframe.Timeframe,
  range: { readonly from: number; readonly to: number },
  now: number
): Either.Either<ReadonlyArray<Candle.Candle>, ParseResult.ParseError> => {
  const duration = Timeframe.durationMs[timeframe]
  const byOpenTime = new Map<number, CoinbaseRestCandle>()
  for (const c of wire) {
    const openTime = secondsToMs(c.start)
    if (openTime < range.from || openTime > range.to) continue
    if (!Timeframe.isAligned(timeframe, openTime)) continue
    if (openTime + duration > now) continue
    byOpenTime.set(openTime, c)
  }
  const sorted = Arr.sort(Array.from(byOpenTime.keys()), (a: number, b: number) => (a < b ? -1 : a > b ? 1 : 0))
  return Either.all(sorted.map((openTime) => candle(byOpenTime.get(openTime)!, true)))
}

const excerptLength = 300

/** The start of an input, for error messages (at most a few hundred characters). */
export const excerpt = (input: unknown): string => {
  const text = typeof input === "string" ? input : safeStringify(input)
  return text.length > excerptLength ? `${text.slice(0, excerptLength)}…` : text
}

const safeStringify = (input: unknown): string => {
  try {
    return JSON.stringify(input) ?? String(input)
  } catch {
    return String(input)
  }
}

/**
 * A decoder of JSON text with `schema` whose failures are `DecodeError`s for `what` (e.g.
 * `GET /api/v3/brokerage/market/products`), carrying the start of the text.
 */
export const decodeJson = <A, I>(schema: Schema.Schema<A, I>, exchange: string, what: string) => {
  const decode = Schema.decodeEither(Schema.parseJson(schema))
  return (text: string): Either.Either<A, ExchangeError.DecodeError> =>
    Either.mapLeft(decode(text), (cause) => decodeError(exchange, what, text, cause))
}

/** A `DecodeError` for `what` on exchange `exchange`, with the start of the input. */
export const decodeError = (
  exchange: string,
  what: string,
  input: unknown,
  cause: unknown
): ExchangeError.DecodeError =>
  new ExchangeError.DecodeError({ exchange, what, excerpt: excerpt(input), cause })
