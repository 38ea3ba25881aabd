/**
 * Candle files: a CSV or JSON file of closed candles read into domain `Candle`s in strictly increasing open
 * time, every problem reported at its CSV line or JSON array index.
 */
import { FileSystem } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import { Candle } from "@livermore/domain"
import { Data, Effect, Either, ParseResult, Schema, Stream } from "effect"
import * as path from "node:path"

/** The input formats; a file's extension (`.csv`, `.json`, any case) says which one it is in. */
export type Format = "csv" | "json"

/** Where in a file a problem is: a CSV line (the header is line 1) or a JSON array index (the first is 0). */
export type Location = { readonly _tag: "Line"; readonly line: number } | { readonly _tag: "Index"; readonly index: number }

/**
 * Why a candle file was rejected:
 * - `unsupported-format`: the extension is neither `.csv` nor `.json`;
 * - `unreadable`: the file cannot be opened or read (`cause` is the `PlatformError`);
 * - `empty`: there is no candle in it;
 * - `malformed`: not CSV or JSON of the expected shape (a row with the wrong number of fields, bad JSON, not an array);
 * - `bad-header`: a CSV header that lacks, repeats or adds a column;
 * - `invalid-candle`: a field is missing or not a valid value, or low and high do not bracket open and close;
 * - `out-of-order`: an open time is not after the one before it.
 */
export type Reason =
  | "unsupported-format"
  | "unreadable"
  | "empty"
  | "malformed"
  | "bad-header"
  | "invalid-candle"
  | "out-of-order"

/** A candle file was rejected; `message` reads `<file>: line 7: close is "abc", not a number`. */
export class CandleFileError extends Data.TaggedError("CandleFileError")<{
  readonly reason: Reason
  /** The path as the user gave it. */
  readonly file: string
  readonly location: Location | undefined
  /** What is wrong, without the file and location. */
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.location === undefined
      ? `${this.file}: ${this.detail}`
      : `${this.file}: ${describeLocation(this.location)}: ${this.detail}`
  }
}

/** `line 7` or `index 3`. */
const describeLocation = (location: Location): string =>
  location._tag === "Line" ? `line ${location.line}` : `index ${location.index}`

/** The columns a CSV header must name, in the canonical order. */
export const requiredColumns = ["openTime", "open", "high", "low", "close", "volume"] as const

const optionalColumns = ["synthetic"] as const

type Column = (typeof requiredColumns)[number] | (typeof optionalColumns)[number]

const knownColumns: ReadonlySet<string> = new Set<string>([...requiredColumns, ...optionalColumns])

const columnList = `${requiredColumns.join(", ")} and optionally ${optionalColumns.join(", ")}`

/** The format of `file` from its extension, or why it has none we read. */
export const formatOf = (file: string): Either.Either<Format, CandleFileError> => {
  const extension = path.extname(file).toLowerCase()
  if (extension === ".csv") return Either.right("csv")
  if (extension === ".json") return Either.right("json")
  return Either.left(
    new CandleFileError({
      reason: "unsupported-format",
      file,
      location: undefined,
      detail:
        (extension === "" ? "the file name has no extension" : `unsupported extension "${extension}"`) +
        "; the input must be a .csv or .json file"
    })
  )
}

// Field values. Each parser returns the decoded value or the rest of a sentence that starts with the field's
// name ("close" + ` is "abc", not a number`), so the messages read the same in CSV and JSON.

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/

/** How a rejected value appears in a message: strings quoted, as they are in the file. */
const shown = (value: unknown): string => {
  if (value === "") return "empty"
  if (typeof value === "string") return JSON.stringify(value)
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value)
  return Array.isArray(value) ? "an array" : typeof value === "object" ? "an object" : `a ${typeof value}`
}

// `written` is the number as the file spells it, unquoted: `volume is -5`, not `volume is "-5"`.
const quantity = (value: number, written: string): Either.Either<number, string> =>
  !Number.isFinite(value)
    ? Either.left(`is ${written}, not a finite number`)
    : value < 0
      ? Either.left(`is ${written}, but prices and volume cannot be negative`)
      : Either.right(value)

const quantityFromCell = (cell: string): Either.Either<number, string> =>
  DECIMAL.test(cell) ? quantity(Number(cell), cell) : Either.left(`is ${shown(cell)}, not a number`)

const quantityFromJson = (value: unknown): Either.Either<number, string> =>
  typeof value === "number" ? quantity(value, String(value)) : Either.left(`is ${shown(value)}, not a number`)

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(?:Z|([+-])(\d{2}):(\d{2}))$/

/**
 * Milliseconds since the epoch of an ISO-8601 time with a zone (`2024-01-01T00:00:00Z`, `…T01:00+01:00`), or
 * undefined. Checked field by field, because `Date.parse` rolls `2024-02-30` over into March.
 */
const isoMillis = (text: string): number | undefined => {
  const match = ISO_TIME.exec(text)
  if (match === null) return undefined
  const at = (group: number): number => Number(match[group] ?? "0")
  const [year, month, day, hour, minute, second] = [at(1), at(2), at(3), at(4), at(5), at(6)]
  const millis = Number((match[7] ?? "").padEnd(3, "0"))
  const [offsetHours, offsetMinutes] = [at(9), at(10)]
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate()
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined
  if (offsetHours > 23 || offsetMinutes > 59) return undefined
  const offset = (match[8] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000
  return Date.UTC(year, month - 1, day, hour, minute, second, millis) - offset
}

const openTime = (value: number, written: string): Either.Either<number, string> =>
  !Number.isSafeInteger(value)
    ? Either.left(`is ${written}, not a whole number of milliseconds`)
    : value < 0
      ? Either.left(`is ${written}, before 1970`)
      : Either.right(value)

const notATime = (actual: unknown): string =>
  `is ${shown(actual)}, neither milliseconds since the epoch nor an ISO-8601 time with a zone`

const openTimeFromText = (text: string): Either.Either<number, string> => {
  if (DECIMAL.test(text)) return openTime(Number(text), text)
  const millis = isoMillis(text)
  return millis === undefined ? Either.left(notATime(text)) : openTime(millis, shown(text))
}

const openTimeFromJson = (value: unknown): Either.Either<number, string> =>
  typeof value === "number"
    ? openTime(value, String(value))
    : typeof value === "string"
      ? openTimeFromText(value)
      : Either.left(notATime(value))

const syntheticFromCell = (cell: string): Either.Either<boolean, string> =>
  cell === "1" || cell === "true"
    ? Either.right(true)
    : cell === "0" || cell === "false"
      ? Either.right(false)
      : Either.left(`is ${shown(cell)}, not 0 or 1`)

const syntheticFromJson = (value: unknown): Either.Either<boolean, string> =>
  value === true || value === 1
    ? Either.right(true)
    : value === false || value === 0
      ? Either.right(false)
      : Either.left(`is ${shown(value)}, not true or false`)

/** A field Schema whose decoding is `parse`, failing with `parse`'s sentence. */
const field = <I, A>(
  from: Schema.Schema<I>,
  to: Schema.Schema<A>,
  parse: (input: I) => Either.Either<A, string>,
  format: (value: A) => I
) =>
  Schema.transformOrFail(from, to, {
    strict: true,
    decode: (input, _, ast) => Either.mapLeft(parse(input), (problem) => new ParseResult.Type(ast, input, problem)),
    encode: (value) => ParseResult.succeed(format(value))
  })

const withDefaultFalse = <I>(schema: Schema.Schema<boolean, I>) =>
  Schema.optionalWith(schema, { default: () => false })

/**
 * The domain `Candle`'s own rules (its field refinements, and low and high bracketing open and close) on plain
 * fields. Decoding through the class itself costs several times as much per row; `toCandle` then builds the
 * instance without checking again.
 */
const CandleFields = Schema.encodedBoundSchema(Candle.Candle)

const toCandle = (fields: typeof CandleFields.Type): Candle.Candle => new Candle.Candle(fields, true)

const candleFrom = <I>(fields: Schema.Schema<Omit<typeof CandleFields.Type, "closed">, I>) =>
  Schema.transform(fields, CandleFields, {
    strict: true,
    decode: (row) => ({ ...row, closed: true }),
    encode: ({ closed: _closed, ...row }) => row
  })

const Cell = {
  openTime: field(Schema.String, Schema.Number, openTimeFromText, String),
  quantity: field(Schema.String, Schema.Number, quantityFromCell, String),
  synthetic: field(Schema.String, Schema.Boolean, syntheticFromCell, (flag) => (flag ? "1" : "0"))
}

/** One CSV row, its cells keyed by column name, as the fields of a closed `Candle`. */
const CandleFromCsvRow = candleFrom(
  Schema.Struct({
    openTime: Cell.openTime,
    open: Cell.quantity,
    high: Cell.quantity,
    low: Cell.quantity,
    close: Cell.quantity,
    volume: Cell.quantity,
    synthetic: withDefaultFalse(Cell.synthetic)
  })
)

const Json = {
  openTime: field(Schema.Unknown, Schema.Number, openTimeFromJson, (millis) => millis),
  quantity: field(Schema.Unknown, Schema.Number, quantityFromJson, (value) => value),
  synthetic: field(Schema.Unknown, Schema.Boolean, syntheticFromJson, (flag) => flag)
}

/** One element of a JSON candle array as the fields of a closed `Candle`. */
const CandleFromJson = candleFrom(
  Schema.Struct({
    openTime: Json.openTime,
    open: Json.quantity,
    high: Json.quantity,
    low: Json.quantity,
    close: Json.quantity,
    volume: Json.quantity,
    synthetic: withDefaultFalse(Json.synthetic)
  })
)

const decodeCsvRow = Schema.decodeUnknownEither(CandleFromCsvRow, { errors: "first" })
// Excess fields are checked here only: the CSV header is checked once instead, and the check costs per row.
const decodeJsonElement = Schema.decodeUnknownEither(CandleFromJson, { errors: "first", onExcessProperty: "error" })

/** The first problem of a failed row decoding, as the sentence after its location. */
const describeParseError = (error: ParseResult.ParseError): string => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return "is not a valid candle"
  const key = issue.path[0]
  if (key === undefined) return issue.message
  if (issue._tag === "Missing") return `${String(key)} is missing`
  if (issue._tag === "Unexpected") return `unknown field ${JSON.stringify(key)}; a candle has ${columnList}`
  return `${String(key)} ${issue.message}`
}

/** Collects decoded candles, checking that each opens after the one before. */
const makeSeries = (file: string) => {
  const candles: Array<Candle.Candle> = []
  let previous: { readonly openTime: number; readonly location: Location } | undefined
  return {
    candles,
    add: (candle: Candle.Candle, location: Location): CandleFileError | undefined => {
      if (previous !== undefined && candle.openTime <= previous.openTime) {
        return new CandleFileError({
          reason: "out-of-order",
          file,
          location,
          detail: `openTime ${candle.openTime} is not after the previous (${describeLocation(previous.location)})`
        })
      }
      candles.push(candle)
      previous = { openTime: candle.openTime, location }
      return undefined
    }
  }
}

const unreadable = (file: string) => (error: PlatformError) =>
  new CandleFileError({
    reason: "unreadable",
    file,
    location: undefined,
    detail:
      error._tag === "SystemError" && error.reason === "NotFound"
        ? "no such file"
        : error._tag === "SystemError" && error.reason === "PermissionDenied"
          ? "permission denied"
          : `cannot read it (${error.description ?? error.message})`,
    cause: error
  })

/** One CSV cell: surrounding spaces and double quotes are not part of the value. */
const cellValue = (raw: string): string => {
  const cell = raw.trim()
  return cell.length >= 2 && cell.startsWith('"') && cell.endsWith('"') ? cell.slice(1, -1).replaceAll('""', '"') : cell
}

/** The columns of a header line, or why it is not one. */
const parseHeader = (text: string): Either.Either<ReadonlyArray<Column>, string> => {
  const names = text.split(",").map(cellValue)
  const unknown = names.find((name) => !knownColumns.has(name))
  if (unknown !== undefined) return Either.left(`unknown column ${JSON.stringify(unknown)}; the columns are ${columnList}`)
  const repeated = names.find((name, i) => names.indexOf(name) !== i)
  if (repeated !== undefined) return Either.left(`column ${JSON.stringify(repeated)} appears twice`)
  const missing = requiredColumns.filter((column) => !names.includes(column))
  if (missing.length > 0) {
    const list = missing.map((column) => JSON.stringify(column)).join(", ")
    return Either.left(
      `missing column${missing.length > 1 ? "s" : ""} ${list}; the header must name ${requiredColumns.join(", ")}`
    )
  }
  return Either.right(names as ReadonlyArray<Column>)
}

/** A CSV decoder fed one line at a time, so a file is decoded as it streams in. */
const makeCsvDecoder = (file: string) => {
  const series = makeSeries(file)
  let line = 0
  let header: { readonly columns: ReadonlyArray<Column>; readonly line: number } | undefined
  const fail = (reason: Reason, at: number, detail: string) =>
    new CandleFileError({ reason, file, location: { _tag: "Line", line: at }, detail })

  return {
    line: (text: string): CandleFileError | undefined => {
      line += 1
      if (text.trim() === "") return undefined
      if (header === undefined) {
        const columns = parseHeader(text)
        if (Either.isLeft(columns)) return fail("bad-header", line, columns.left)
        header = { columns: columns.right, line }
        return undefined
      }
      const cells = text.split(",")
      if (cells.length !== header.columns.length) {
        return fail(
          "malformed",
          line,
          `${cells.length} field${cells.length === 1 ? "" : "s"}, but the header (line ${header.line}) names ${header.columns.length} columns`
        )
      }
      const row: Record<string, string> = {}
      for (let i = 0; i < cells.length; i++) row[header.columns[i]!] = cellValue(cells[i]!)
      const candle = decodeCsvRow(row)
      if (Either.isLeft(candle)) return fail("invalid-candle", line, describeParseError(candle.left))
      return series.add(toCandle(candle.right), { _tag: "Line", line })
    },
    end: (): Either.Either<ReadonlyArray<Candle.Candle>, CandleFileError> => {
      if (header === undefined) {
        return Either.left(
          new CandleFileError({
            reason: "empty",
            file,
            location: undefined,
            detail: `the file is empty; a CSV candle file starts with a header such as ${requiredColumns.join(",")}`
          })
        )
      }
      if (series.candles.length === 0) {
        return Either.left(
          new CandleFileError({ reason: "empty", file, location: undefined, detail: `no candles after the header (line ${header.line})` })
        )
      }
      return Either.right(series.candles)
    }
  }
}

const readCsv = (fs: FileSystem.FileSystem, file: string) =>
  Effect.suspend(() => {
    const decoder = makeCsvDecoder(file)
    return fs.stream(file).pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.mapError(unreadable(file)),
      Stream.runForEachChunk((lines) => {
        for (const text of lines) {
          const error = decoder.line(text)
          if (error !== undefined) return Effect.fail(error)
        }
        return Effect.void
      }),
      Effect.flatMap(decoder.end)
    )
  })

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The candles of a JSON document's text. */
const decodeJson = (file: string, text: string): Either.Either<ReadonlyArray<Candle.Candle>, CandleFileError> => {
  const fail = (reason: Reason, detail: string, location?: Location) =>
    Either.left(new CandleFileError({ reason, file, location, detail }))
  if (text.trim() === "") return fail("empty", "the file is empty; a JSON candle file holds an array of candles")
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch (cause) {
    return fail("malformed", `not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`)
  }
  if (!Array.isArray(document)) return fail("malformed", `expected a JSON array of candles, found ${shown(document)}`)
  if (document.length === 0) return fail("empty", "no candles: the array is empty")
  const series = makeSeries(file)
  for (let index = 0; index < document.length; index++) {
    const location: Location = { _tag: "Index", index }
    const element: unknown = document[index]
    if (!isRecord(element)) return fail("malformed", `expected a candle object, found ${shown(element)}`, location)
    const candle = decodeJsonElement(element)
    if (Either.isLeft(candle)) return fail("invalid-candle", describeParseError(candle.left), location)
    const error = series.add(toCandle(candle.right), location)
    if (error !== undefined) return Either.left(error)
  }
  return Either.right(series.candles)
}

/**
 * The candles of `file`, oldest first, every one closed; the extension selects CSV or JSON. A CSV file is decoded
 * as it streams in; a JSON file is parsed whole.
 */
export const read = Effect.fn("CandleFile.read")(function* (file: string) {
  const format = yield* formatOf(file)
  const fs = yield* FileSystem.FileSystem
  if (format === "csv") return yield* readCsv(fs, file)
  const text = yield* fs.readFileString(file).pipe(Effect.mapError(unreadable(file)))
  return yield* decodeJson(file, text)
})
