/**
 * Scripted price paths: make a symbol crash, rally or recover on demand, deterministically. A script scales
 * every price of one symbol by `exp(offset(t))`, where the log offset is 0 before `from`, moves by `drift` per
 * 5-minute bar through each leg (linearly in time, also inside a bar) and stays at its final value after the
 * last leg. Several scripts on one symbol add their offsets. `GET|POST|DELETE /__sim/script` and the `scripts`
 * option use the wire schema below.
 */
import { Data, Either, ParseResult, Schema } from "effect"

/** The base bar length (5 minutes): a leg's `bars` and `drift` count in it. */
export const BAR_MS = 5 * 60_000

/**
 * Bound on how far a symbol's scripts may move its price: the sum over its scripts of the largest |offset| each
 * reaches stays within ln(100), so prices stay within a factor of 100 of the unscripted ones (and volumes in
 * quote units stay exact integers).
 */
export const MAX_LOG_FACTOR = Math.log(100)

/** One leg: `bars` 5-minute bars during which the log price moves by `drift` per bar. */
export const Leg = Schema.Struct({
  /** How many 5-minute bars the leg lasts (a positive integer). */
  bars: Schema.Int.pipe(Schema.positive()),
  /** Log-price change per 5-minute bar (−0.01 ≈ −1 % per bar), a finite number. */
  drift: Schema.Number.pipe(Schema.finite())
})
export type Leg = typeof Leg.Type

/** A price script (`POST /__sim/script` body, an element of the `scripts` option). */
export const Script = Schema.Struct({
  /** The symbol, by its Binance name (`BTCUSDT`) or Coinbase product id (`BTC-USD`). */
  symbol: Schema.NonEmptyTrimmedString,
  /** Sim time (ms since the epoch) at which the first leg starts; a multiple of 5 minutes. */
  from: Schema.NonNegativeInt.pipe(
    Schema.filter((from) => from % BAR_MS === 0 || `must be a multiple of 5 minutes (${BAR_MS} ms), got ${from}`)
  ),
  /** The legs, in order (at least one). */
  legs: Schema.Array(Leg).pipe(Schema.minItems(1, { message: () => "must hold at least one leg" }))
}).annotations({ identifier: "Script" })
export type Script = typeof Script.Type

/** A script was refused: malformed, an unknown symbol, or too large a move. */
export class ScriptError extends Data.TaggedError("ScriptError")<{ readonly message: string }> {}

const decodeEither = Schema.decodeUnknownEither(Script, { onExcessProperty: "error", errors: "all" })

/** One line per offending field: `path: message; …`. */
const describe = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => (issue.path.length === 0 ? issue.message : `${issue.path.join(".")}: ${issue.message}`))
    .join("; ")

/** Decode a script from JSON-like input; unknown keys are an error (a typo must not pass silently). */
export const decode = (input: unknown): Either.Either<Script, ScriptError> =>
  typeof input !== "object" || input === null || Array.isArray(input)
    ? Either.left(new ScriptError({ message: "a script must be an object { symbol, from, legs: [{ bars, drift }, …] }" }))
    : Either.mapLeft(decodeEither(input), (error) => new ScriptError({ message: describe(error) }))

/** When the script's last leg ends (sim ms): from then on its offset stays at `finalOffset`. */
export const endOf = (script: Script): number => script.from + script.legs.reduce((n, leg) => n + leg.bars, 0) * BAR_MS

/** The log offset a script has reached after its last leg. */
export const finalOffset = (script: Script): number => script.legs.reduce((x, leg) => x + leg.bars * leg.drift, 0)

/** The largest |log offset| the script reaches (offsets are piecewise linear, so at a leg boundary). */
export const maxAbsOffset = (script: Script): number => {
  let x = 0
  let max = 0
  for (const leg of script.legs) {
    x += leg.bars * leg.drift
    max = Math.max(max, Math.abs(x))
  }
  return max
}

/** The script's log-price offset at sim time `t`: 0 before `from`, linear through each leg, then constant. */
export const offsetAt = (script: Script, t: number): number => {
  if (t <= script.from) return 0
  let elapsed = (t - script.from) / BAR_MS
  let x = 0
  for (const leg of script.legs) {
    if (elapsed <= leg.bars) return x + elapsed * leg.drift
    x += leg.bars * leg.drift
    elapsed -= leg.bars
  }
  return x
}
