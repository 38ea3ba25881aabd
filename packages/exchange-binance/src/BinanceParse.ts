/**
 * Pure mapping from decoded Binance messages to domain values (candles, tickers, products, volumes) and from
 * domain requests to Binance names (intervals, stream names). No effects: every function is input → output.
 */
import { Candle, Market, Ticker, Timeframe } from "@livermore/domain"
import type { ExchangeAdapter } from "@livermore/exchange"
import { ExchangeError, MarketEvent } from "@livermore/exchange"
import { Either, Option, type ParseResult, Schema } from "effect"
import * as BinanceMessages from "./BinanceMessages.js"
import { excerpt, parseJson } from "./internal/decode.js"

/** Binance kline intervals for the domain timeframes (case-sensitive on the wire). */
export const intervals: Readonly<Record<Timeframe.Timeframe, string>> = {
  "5m": "5m",
  "15m": "15m",
  "1h": "1h",
  "4h": "4h",
  "1d": "1d"
}

/** The Binance interval of a timeframe. */
export const intervalOf = (timeframe: Timeframe.Timeframe): string => intervals[timeframe]

const timeframeByInterval: ReadonlyMap<string, Timeframe.Timeframe> = new Map(
  Timeframe.all.map((timeframe) => [intervals[timeframe], timeframe] as const)
)

/** The timeframe of a Binance interval; none for intervals Livermore does not keep (`1m`, `1w`, …). */
export const timeframeOf = (interval: string): Option.Option<Timeframe.Timeframe> =>
  Option.fromNullable(timeframeByInterval.get(interval))

/** Stream names use the lowercase symbol (exchanges.md §1.2). */
const streamSymbol = (symbol: Market.SymbolId): string => symbol.toLowerCase()

/** `btcusdt@kline_5m`. */
export const klineStream = (symbol: Market.SymbolId, timeframe: Timeframe.Timeframe): string =>
  `${streamSymbol(symbol)}@kline_${intervalOf(timeframe)}`

/**
 * `btcusdt@ticker`: the full 24 h ticker, because the domain ticker carries best bid and ask, which
 * `@miniTicker` lacks. Same 1 s cadence.
 */
export const tickerStream = (symbol: Market.SymbolId): string => `${streamSymbol(symbol)}@ticker`

/** The stream names for a subscription, grouped by symbol (kline streams in timeframe order, then the ticker). */
export const streamsOf = (
  symbol: Market.SymbolId,
  timeframes: ReadonlyArray<Timeframe.Timeframe>,
  tickers: boolean
): ReadonlyArray<string> => {
  const klines = timeframes.map((timeframe) => klineStream(symbol, timeframe))
  return tickers ? [...klines, tickerStream(symbol)] : klines
}

const decodeSymbol = Schema.decodeUnknownEither(Market.SymbolId)
const decodeCandle = Schema.decodeUnknownEither(Candle.Candle)
const decodeTicker = Schema.decodeUnknownEither(Ticker.Ticker)

const decodeError = (exchange: string, what: string, input: unknown) => (cause: unknown) =>
  new ExchangeError.DecodeError({ exchange, what, excerpt: excerpt(input), cause })

/** A candle update of the live stream, in domain terms. */
export interface KlineUpdate {
  readonly symbol: Market.SymbolId
  readonly timeframe: Timeframe.Timeframe
  readonly candle: Candle.Candle
}

/**
 * A kline event as a domain candle: `closed` is Binance's `x`, and the candle is never synthetic because
 * Binance publishes zero-trade klines itself (exchanges.md §1.3). Fails for an interval Livermore does not
 * keep, a symbol unsafe as a key, or an inconsistent candle.
 */
export const candleFromKline = (
  exchange: string,
  event: BinanceMessages.KlineEssentials
): Either.Either<KlineUpdate, ExchangeError.DecodeError> => {
  const k = event.k
  const fail = decodeError(exchange, "kline event", event)
  const timeframe = timeframeOf(k.i)
  if (Option.isNone(timeframe)) return Either.left(fail(`interval "${k.i}" is not one of ${Timeframe.all.join(", ")}`))
  const symbol = decodeSymbol(k.s)
  if (Either.isLeft(symbol)) return Either.left(fail(symbol.left))
  // The fields were decoded by the message schema: the candle's own rules are checked by hand (see Candle.violation).
  const fields = { openTime: k.t, open: k.o, high: k.h, low: k.l, close: k.c, volume: k.v, closed: k.x, synthetic: false }
  const broken = Candle.violation(fields)
  if (broken !== undefined) return Either.left(fail(broken))
  return Either.right({ symbol: symbol.right, timeframe: timeframe.value, candle: Candle.fromChecked(fields) })
}

/**
 * A REST kline row as a domain candle, closed or not as the caller determined from the clock
 * (the REST row itself has no closed flag).
 */
export const candleFromRow = (
  exchange: string,
  row: BinanceMessages.KlineRow,
  closed: boolean
): Either.Either<Candle.Candle, ExchangeError.DecodeError> =>
  Either.mapLeft(
    decodeCandle({
      openTime: row[0],
      open: row[1],
      high: row[2],
      low: row[3],
      close: row[4],
      volume: row[5],
      closed,
      synthetic: false
    }),
    decodeError(exchange, "GET /api/v3/klines row", row)
  )

/** A `24hrTicker` event as a domain ticker (last price, 24 h volumes, best bid and ask). */
export const tickerFromEvent = (
  exchange: string,
  event: BinanceMessages.TickerEvent
): Either.Either<Ticker.Ticker, ExchangeError.DecodeError> =>
  Either.mapLeft(
    decodeTicker({
      symbol: event.s,
      price: event.c,
      volume24h: event.v,
      quoteVolume24h: event.q,
      bestBid: event.b,
      bestAsk: event.a,
      time: event.E
    }),
    decodeError(exchange, "24hrTicker event", event)
  )

/** A `24hrMiniTicker` event as a domain ticker, without top of book. */
export const tickerFromMiniTicker = (
  exchange: string,
  event: BinanceMessages.MiniTickerEvent
): Either.Either<Ticker.Ticker, ExchangeError.DecodeError> =>
  Either.mapLeft(
    decodeTicker({ symbol: event.s, price: event.c, volume24h: event.v, quoteVolume24h: event.q, time: event.E }),
    decodeError(exchange, "24hrMiniTicker event", event)
  )

/** Products the exchange lists, split into the usable ones and the symbols that had to be left out. */
export interface ProductList {
  readonly products: ReadonlyArray<Market.Product>
  /** TRADING symbols whose id or assets do not fit the domain (e.g. non-ASCII symbols), with the reason. */
  readonly skipped: ReadonlyArray<{ readonly symbol: string; readonly reason: string }>
}

const decodeProduct = Schema.decodeUnknownEither(Market.Product)

/**
 * The tradable products of `exchangeInfo`: status `TRADING` only, base and quote assets as Binance lists them
 * (never split from the symbol, exchanges.md §3). A symbol the domain cannot carry is skipped, not fatal:
 * Binance has listed non-ASCII symbols, and one of them must not take the whole product list down.
 */
export const productsFromExchangeInfo = (info: BinanceMessages.ExchangeInfo): ProductList => {
  const products: Array<Market.Product> = []
  const skipped: Array<{ symbol: string; reason: string }> = []
  for (const s of info.symbols) {
    if (s.status !== "TRADING") continue
    const product = decodeProduct({ symbol: s.symbol, baseAsset: s.baseAsset, quoteAsset: s.quoteAsset })
    if (Either.isRight(product)) products.push(product.right)
    else skipped.push({ symbol: s.symbol, reason: product.left.message })
  }
  return { products, skipped }
}

/** The REQUEST_WEIGHT budget per minute that `exchangeInfo.rateLimits` publishes, if it lists one. */
export const requestWeightPerMinute = (info: BinanceMessages.ExchangeInfo): Option.Option<number> =>
  Option.fromNullable(
    info.rateLimits.find((l) => l.rateLimitType === "REQUEST_WEIGHT" && l.interval === "MINUTE" && l.intervalNum === 1)
      ?.limit
  )

/**
 * 24 h volumes of the `tradable` symbols from `ticker/24hr` rows. Rows of other symbols (halted, delisted, or
 * not representable as a `SymbolId`) are left out.
 */
export const volumesFromTickers = (
  rows: ReadonlyArray<BinanceMessages.Ticker24h>,
  tradable: ReadonlySet<string>
): ReadonlyArray<ExchangeAdapter.Volume24h> => {
  const out: Array<ExchangeAdapter.Volume24h> = []
  for (const row of rows) {
    if (!tradable.has(row.symbol)) continue
    const symbol = decodeSymbol(row.symbol)
    if (Either.isLeft(symbol) || row.volume < 0 || row.quoteVolume < 0) continue
    out.push({ symbol: symbol.right, volume: row.volume, quoteVolume: row.quoteVolume })
  }
  return out
}

/** What one text frame of the live stream means. */
export type Frame =
  /** A candle or ticker update. */
  | { readonly _tag: "Event"; readonly event: MarketEvent.MarketEvent }
  /** `serverShutdown`: the server is going away; `at` is its event time (ms). */
  | { readonly _tag: "Shutdown"; readonly at: number }
  /** The acknowledgement of a control message. */
  | { readonly _tag: "Ack"; readonly id: string | number | null }
  /** A refused control message (`{code,msg,id}`). */
  | { readonly _tag: "Refused"; readonly code: number; readonly msg: string }

const decodeFrameSchema = Schema.decodeUnknownEither(BinanceMessages.Frame, { errors: "first" })
const decodeCombinedKline = Schema.decodeUnknownEither(BinanceMessages.CombinedKline, { errors: "first" })
const decodeBareKline = Schema.decodeUnknownEither(BinanceMessages.KlineEssentials, { errors: "first" })

/** Whether parsed JSON announces a kline event (bare or combined), the bulk of the stream. */
const klineOf = (json: unknown): "combined" | "bare" | undefined => {
  if (typeof json !== "object" || json === null) return undefined
  if ("data" in json && typeof json.data === "object" && json.data !== null && "e" in json.data && json.data.e === "kline") {
    return "combined"
  }
  return "e" in json && json.e === "kline" ? "bare" : undefined
}

const klineFrame = (exchange: string, text: string, event: Either.Either<BinanceMessages.KlineEssentials, ParseResult.ParseError>) =>
  Either.flatMap(Either.mapLeft(event, decodeError(exchange, "stream frame", text)), (kline) =>
    Either.map(candleFromKline(exchange, kline), (update): Frame => ({ _tag: "Event", event: MarketEvent.MarketEvent.Candle(update) }))
  )

/**
 * A text frame of the live stream (combined-wrapped or bare) as domain terms. Fails with `DecodeError` for
 * anything that is not JSON, not a documented frame, or not representable in the domain (an interval Livermore
 * does not keep, an inconsistent candle); callers count and skip those.
 */
export const frameFromText = (exchange: string, text: string): Either.Either<Frame, ExchangeError.DecodeError> =>
  Either.flatMap(parseJson(text, exchange, "stream frame"), (json) => {
    // Kline updates are most of the stream: decoded by their own schema, not tried against every frame kind.
    const kline = klineOf(json)
    if (kline === "combined") return klineFrame(exchange, text, Either.map(decodeCombinedKline(json), (c) => c.data))
    if (kline === "bare") return klineFrame(exchange, text, decodeBareKline(json))
    return Either.flatMap(
      Either.mapLeft(decodeFrameSchema(json), decodeError(exchange, "stream frame", text)),
      (frame): Either.Either<Frame, ExchangeError.DecodeError> => {
        if ("result" in frame) return Either.right({ _tag: "Ack", id: frame.id })
        if ("code" in frame) return Either.right({ _tag: "Refused", code: frame.code, msg: frame.msg })
        const event = "stream" in frame ? frame.data : frame
        switch (event.e) {
          case "kline":
            return Either.map(candleFromKline(exchange, event), (update) => ({
              _tag: "Event" as const,
              event: MarketEvent.MarketEvent.Candle(update)
            }))
          case "24hrTicker":
            return Either.map(tickerFromEvent(exchange, event), (ticker) => ({
              _tag: "Event" as const,
              event: MarketEvent.MarketEvent.Ticker({ ticker })
            }))
          case "24hrMiniTicker":
            return Either.map(tickerFromMiniTicker(exchange, event), (ticker) => ({
              _tag: "Event" as const,
              event: MarketEvent.MarketEvent.Ticker({ ticker })
            }))
          case "serverShutdown":
            return Either.right({ _tag: "Shutdown", at: event.E })
        }
      }
    )
  })
