/**
 * A user's settings, stored as the `users.settings` JSON object and edited on the admin Settings page. An instance
 * follows the settings of its admin (`LIVERMORE_ADMIN_EMAIL`): the watchlist joins Tier 2 of each exchange's symbol
 * universe and `topN` overrides the instance's `LIVERMORE_TOP_N`, both at start and on `reload-settings`.
 */
import { Either, ParseResult, Schema } from "effect"
import * as Exchange from "./Exchange.js"
import * as Market from "./Market.js"
import * as Timeframe from "./Timeframe.js"

/** Most symbols one exchange's watchlist may hold: each is followed live on every timeframe. */
export const watchlistLimit = 200

/** Tier 1's size may be set between these. */
export const topNRange = { min: 1, max: 500 } as const

const noRepeats = <A extends string>(list: ReadonlyArray<A>): true | string => {
  const seen = new Set<string>()
  for (const item of list) {
    if (seen.has(item)) return `${item} appears more than once`
    seen.add(item)
  }
  return true
}

/** The symbols one exchange's watchlist follows, in the exchange's own spelling (`BTCUSDT`, `BTC-USD`). */
export const Watchlist = Schema.Array(Market.SymbolId).pipe(
  Schema.maxItems(watchlistLimit, { message: () => `a watchlist holds at most ${watchlistLimit} symbols` }),
  Schema.filter(noRepeats)
)
export type Watchlist = typeof Watchlist.Type

/** One message for every way a number can be wrong here, instead of one per layered check. */
const wholeNumber = (what: string, min: number, max: number) =>
  Schema.Int.pipe(Schema.between(min, max)).annotations({
    message: () => ({ message: `${what} is a whole number from ${min} to ${max}`, override: true })
  })

export const TopN = wholeNumber("top N", topNRange.min, topNRange.max)

const ChartTimeframe = Timeframe.Timeframe.annotations({
  message: () => ({ message: `a timeframe is one of ${Timeframe.all.join(", ")}`, override: true })
})

/** What the Signals chart opens with. */
export const ChartSettings = Schema.Struct({
  timeframe: Schema.optionalWith(ChartTimeframe, { default: () => "1h" as const, exact: true }),
  bars: Schema.optionalWith(wholeNumber("chart bars", 50, 1000), { default: () => 300, exact: true })
})

export const UserSettings = Schema.Struct({
  /** Per exchange name: symbols followed besides the top N (Tier 2, with held positions). */
  watchlist: Schema.optionalWith(Schema.Record({ key: Exchange.ExchangeName, value: Watchlist }), { default: () => ({}), exact: true }),
  /** Per exchange name: Tier 1's size, instead of the instance's `LIVERMORE_TOP_N`. */
  topN: Schema.optionalWith(Schema.Record({ key: Exchange.ExchangeName, value: TopN }), { default: () => ({}), exact: true }),
  chart: Schema.optionalWith(ChartSettings, {
    default: () => ({ timeframe: "1h" as const, bars: 300 }),
    exact: true
  })
}).annotations({ identifier: "UserSettings" })
export type UserSettings = typeof UserSettings.Type
export type Encoded = typeof UserSettings.Encoded

/** The settings of a user who never saved any: every default. */
export const empty: UserSettings = Schema.decodeUnknownSync(UserSettings)({})

/** One reason a settings document was refused: where (`watchlist.binance[3]`) and why. */
export class Issue extends Schema.Class<Issue>("SettingsIssue")({ path: Schema.String, message: Schema.String }) {}

const pathText = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (text, key) => (typeof key === "number" ? `${text}[${key}]` : text === "" ? String(key) : `${text}.${String(key)}`),
    ""
  ) || "(the document)"

// An unknown key is refused rather than dropped: a misspelt "watchlst" must not silently save as nothing.
const decode = Schema.decodeUnknownEither(UserSettings, { errors: "all", onExcessProperty: "error" })

/** Decode a settings document, every problem listed; unknown keys are problems too. */
export const validate = (input: unknown): Either.Either<UserSettings, ReadonlyArray<Issue>> =>
  Either.mapLeft(decode(input), (error) =>
    ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => new Issue({ path: pathText(issue.path), message: issue.message }))
  )

/** The JSON object to store. */
export const encode = (settings: UserSettings): Encoded => Schema.encodeSync(UserSettings)(settings)
