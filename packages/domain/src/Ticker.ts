/** Ticker: the latest price picture of one symbol. */
import { Schema } from "effect"
import { SymbolId } from "./Market.js"

const NonNegative = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())

/** Last trade price, 24h volume and top of book for a symbol. */
export class Ticker extends Schema.Class<Ticker>("Ticker")({
  symbol: SymbolId,
  price: NonNegative,
  /** 24h volume in the base asset. */
  volume24h: NonNegative,
  /** 24h volume in the quote asset, when the exchange reports it. */
  quoteVolume24h: Schema.optionalWith(NonNegative, { exact: true }),
  bestBid: Schema.optionalWith(NonNegative, { exact: true }),
  bestAsk: Schema.optionalWith(NonNegative, { exact: true }),
  /** Exchange time of the update, ms since the epoch. */
  time: Schema.Int.pipe(Schema.nonNegative())
}) {}
