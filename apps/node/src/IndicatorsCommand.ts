/** `livermore indicators`: indicators computed offline over a file of candles, printed to standard output. */
import { Command, HelpDoc, Options } from "@effect/cli"
import { Terminal } from "@effect/platform"
import { Data, Effect, Predicate } from "effect"
import * as CandleFile from "./CandleFile.js"
import * as MacdVTable from "./MacdVTable.js"

const columns = (names: ReadonlyArray<string>): string => names.join(",")

const input = Options.file("input").pipe(
  Options.withDescription("The candle file, oldest first: .csv or .json (the extension selects the format).")
)
const format = Options.choice("format", MacdVTable.formats).pipe(
  Options.withDefault("csv" as const),
  Options.withDescription("The output format: csv (the default) or json.")
)

const macdvHelp = HelpDoc.blocks([
  HelpDoc.p(
    "MACD-V (EMAs 12 and 26, signal 9, ATR 26) over a file of closed candles: one output row per input candle, " +
      "in the same order, on standard output."
  ),
  HelpDoc.p("Input (--input); the extension selects the format:"),
  HelpDoc.enumeration([
    HelpDoc.p(
      `.csv: a header line such as ${columns(CandleFile.requiredColumns)},synthetic, naming the columns in ` +
        "any order; synthetic is optional and any other column is an error. Then one candle per line. Blank " +
        "lines are skipped; a cell may be padded with spaces or wrapped in double quotes."
    ),
    HelpDoc.p(
      ".json: an array of objects { openTime, open, high, low, close, volume, synthetic? }; any other field " +
        "is an error."
    ),
    HelpDoc.p(
      "openTime: milliseconds since the epoch (an integer) or an ISO-8601 time with a zone, such as " +
        "2024-01-01T00:00:00Z. Open times must strictly increase."
    ),
    HelpDoc.p(
      "open, high, low, close, volume: non-negative numbers (JSON numbers in .json); low and high must " +
        "bracket open and close."
    ),
    HelpDoc.p(
      "synthetic: 0 or 1 (or false or true), default 0. A synthetic (gap-filled) candle moves the " +
        "averages but not the ATR. Every candle counts as closed."
    )
  ]),
  HelpDoc.p("Output (--format):"),
  HelpDoc.enumeration([
    HelpDoc.p(
      `csv (the default): the header ${columns(MacdVTable.columns)}, then one line per candle; a field is ` +
        "empty where the indicator has no value."
    ),
    HelpDoc.p(`json: an array of { ${MacdVTable.columns.join(", ")} }, one object per line, null where there is no value.`),
    HelpDoc.p(
      "openTime is in milliseconds. Numbers are written in full: the shortest decimal that reads back as the " +
        "same double. macdV has no value until the ATR is seeded by 26 candles that are not synthetic (nor " +
        "while the ATR is 0); signal, histogram and stage have none until 9 values exist."
    )
  ]),
  HelpDoc.p(
    "A file that cannot be used stops the command before any output, with one line on standard error that " +
      "names the CSV line (the header is line 1) or the JSON array index, and exit code 1: " +
      'livermore: candles.csv: line 7: close is "abc", not a number'
  )
])

/** Standard output refused a write, for a reason other than its reader having gone away. */
class OutputError extends Data.TaggedError("OutputError")<{ readonly cause: unknown }> {
  override get message(): string {
    return `cannot write to standard output: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

const isClosedPipe = (cause: unknown): boolean => Predicate.hasProperty(cause, "code") && cause.code === "EPIPE"

/** Writes `pieces` in order, each once the previous is flushed; stops quietly when the reader has gone (`| head`). */
const writeOut = Effect.fn("IndicatorsCommand.writeOut")(function* (pieces: Iterable<string>) {
  const terminal = yield* Terminal.Terminal
  for (const piece of pieces) {
    const written = yield* terminal.display(piece).pipe(
      Effect.as(true),
      Effect.catchAll((error) =>
        isClosedPipe(error.cause) ? Effect.succeed(false) : Effect.fail(new OutputError({ cause: error.cause }))
      )
    )
    if (!written) return
  }
})

const macdv = Command.make(
  "macdv",
  { input, format },
  Effect.fn("IndicatorsCommand.macdv")(function* ({ input, format }) {
    const candles = yield* CandleFile.read(input)
    yield* writeOut(MacdVTable.render(MacdVTable.rows(candles), format))
  })
).pipe(Command.withDescription(macdvHelp))

/** The `indicators` command group. */
export const command = Command.make("indicators").pipe(
  Command.withDescription(
    "Indicators over a file of closed candles, one output row per candle. macdv --input FILE [--format csv|json] " +
      `reads a .csv file (a header naming ${columns(CandleFile.requiredColumns)} in any order, optionally ` +
      "synthetic 0/1) or a .json file (an array of { openTime, open, high, low, close, volume, synthetic? }) and " +
      `prints CSV (${columns(MacdVTable.columns)}; empty where there is no value) or JSON (the same keys; null ` +
      "where there is no value). See indicators macdv --help for the details."
  ),
  Command.withSubcommands([macdv])
)
