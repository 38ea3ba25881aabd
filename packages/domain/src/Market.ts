/** The market a node watches: symbols (the exchange's own product ids), products and series (domain.md §1). */
import { Schema } from "effect"
import { ExchangeId } from "./Exchange.js"
import { Timeframe } from "./Timeframe.js"

/**
 * The exchange's own product id (`BTC-USD` on Coinbase, `BTCUSDT` on Binance). Base and quote come from the
 * exchange's product list, never from splitting this string. The character set keeps it safe inside Redis keys.
 */
export const SymbolId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/, {
    message: () => "a symbol is 1–40 letters, digits, '.', '_' or '-', starting with a letter or digit"
  }),
  Schema.brand("SymbolId")
).annotations({ identifier: "SymbolId" })
export type SymbolId = typeof SymbolId.Type

/** A tradable product of an exchange, as its product list describes it. */
export class Product extends Schema.Class<Product>("Product")({
  symbol: SymbolId,
  baseAsset: Schema.NonEmptyTrimmedString,
  quoteAsset: Schema.NonEmptyTrimmedString
}) {}

/** One candle series: an exchange's symbol on one timeframe. */
export class Series extends Schema.Class<Series>("Series")({
  exchangeId: ExchangeId,
  symbol: SymbolId,
  timeframe: Timeframe
}) {}

/** A symbol the exchange does not list. */
export class UnknownSymbol extends Schema.TaggedError<UnknownSymbol>()("UnknownSymbol", {
  exchange: Schema.String,
  symbol: Schema.String
}) {
  override get message(): string {
    return `${this.exchange} lists no symbol "${this.symbol}"`
  }
}
