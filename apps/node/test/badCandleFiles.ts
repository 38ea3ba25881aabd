/**
 * Candle files that must be rejected, each with the exact message: `CandleFile.test.ts` reads every one in
 * process; `indicators.test.ts` runs the real command on those marked `endToEnd`.
 */
import type * as CandleFile from "../src/CandleFile.js"

/** One rejected file. */
export interface BadCandleFile {
  readonly name: string
  /** File name in a temporary directory; its extension selects the format. */
  readonly file: string
  /** The content; undefined for a file that does not exist. */
  readonly content: string | undefined
  readonly reason: CandleFile.Reason
  /** The message after `<path>: `. */
  readonly expected: string
  /** Also run through the real command (each run starts a process: seconds, so only the main cases). */
  readonly endToEnd?: boolean
}

const T0 = 1_700_000_000_000
const FIVE_MINUTES = 300_000
const CSV_HEADER = "openTime,open,high,low,close,volume"

/** `count` valid CSV rows five minutes apart from T0, with the row on `line` (the header is line 1) replaced. */
const csvWith = (count: number, line: number, replacement: string): string => {
  const body = Array.from({ length: count }, (_, i) => `${T0 + i * FIVE_MINUTES},100,101.5,99.25,100.75,12.5`)
  body[line - 2] = replacement
  return `${CSV_HEADER}\n${body.join("\n")}\n`
}

const jsonCandle = (openTime: number, fields: Record<string, unknown> = {}) => ({
  openTime,
  open: 100,
  high: 101.5,
  low: 99.25,
  close: 100.75,
  volume: 12.5,
  ...fields
})

/** A JSON array of `count` valid candles five minutes apart, with the element at `index` replaced. */
const jsonWith = (count: number, index: number, replacement: unknown): string =>
  JSON.stringify(Array.from({ length: count }, (_, i) => (i === index ? replacement : jsonCandle(T0 + i * FIVE_MINUTES))))

const columns = "openTime, open, high, low, close, volume"

export const badCandleFiles: ReadonlyArray<BadCandleFile> = [
  {
    name: "an unsupported extension",
    file: "candles.txt",
    content: CSV_HEADER,
    reason: "unsupported-format",
    expected: 'unsupported extension ".txt"; the input must be a .csv or .json file',
    endToEnd: true
  },
  {
    name: "no extension",
    file: "candles",
    content: CSV_HEADER,
    reason: "unsupported-format",
    expected: "the file name has no extension; the input must be a .csv or .json file"
  },
  { name: "a missing file", file: "absent.csv", content: undefined, reason: "unreadable", expected: "no such file" },
  {
    name: "an empty CSV file",
    file: "empty.csv",
    content: "",
    reason: "empty",
    expected: "the file is empty; a CSV candle file starts with a header such as openTime,open,high,low,close,volume",
    endToEnd: true
  },
  {
    name: "a header and no candles",
    file: "header.csv",
    content: `${CSV_HEADER}\n\n`,
    reason: "empty",
    expected: "no candles after the header (line 1)"
  },
  {
    name: "a missing column",
    file: "no-low.csv",
    content: "openTime,open,high,close,volume\n1,1,1,1,1\n",
    reason: "bad-header",
    expected: `line 1: missing column "low"; the header must name ${columns}`,
    endToEnd: true
  },
  {
    name: "missing columns",
    file: "no-hlc.csv",
    content: "openTime,open,volume\n1,1,1\n",
    reason: "bad-header",
    expected: `line 1: missing columns "high", "low", "close"; the header must name ${columns}`
  },
  {
    name: "an unknown column",
    file: "extra.csv",
    content: `${CSV_HEADER},Synthetic\n`,
    reason: "bad-header",
    expected: `line 1: unknown column "Synthetic"; the columns are ${columns} and optionally synthetic`
  },
  {
    name: "a repeated column",
    file: "twice.csv",
    content: `${CSV_HEADER},close\n`,
    reason: "bad-header",
    expected: 'line 1: column "close" appears twice'
  },
  {
    name: "a non-number",
    file: "abc.csv",
    content: csvWith(8, 7, `${T0 + 5 * FIVE_MINUTES},100,101.5,99.25,abc,12.5`),
    reason: "invalid-candle",
    expected: 'line 7: close is "abc", not a number',
    endToEnd: true
  },
  {
    name: "an empty cell",
    file: "blank-cell.csv",
    content: csvWith(3, 3, `${T0 + FIVE_MINUTES},100,,99.25,100.75,12.5`),
    reason: "invalid-candle",
    expected: "line 3: high is empty, not a number"
  },
  {
    name: "a negative volume",
    file: "negative.csv",
    content: csvWith(3, 2, `${T0},100,101.5,99.25,100.75,-3`),
    reason: "invalid-candle",
    expected: "line 2: volume is -3, but prices and volume cannot be negative"
  },
  {
    name: "a fractional open time",
    file: "fraction.csv",
    content: csvWith(3, 4, `${T0 + 0.5},100,101.5,99.25,100.75,12.5`),
    reason: "invalid-candle",
    expected: "line 4: openTime is 1700000000000.5, not a whole number of milliseconds"
  },
  {
    name: "an impossible ISO-8601 date",
    file: "iso.csv",
    content: csvWith(3, 2, "2024-02-30T00:00:00Z,100,101.5,99.25,100.75,12.5"),
    reason: "invalid-candle",
    expected:
      'line 2: openTime is "2024-02-30T00:00:00Z", neither milliseconds since the epoch nor an ISO-8601 time with a zone'
  },
  {
    name: "an ISO-8601 time without a zone",
    file: "local.csv",
    content: csvWith(3, 2, "2024-01-01T00:00:00,100,101.5,99.25,100.75,12.5"),
    reason: "invalid-candle",
    expected:
      'line 2: openTime is "2024-01-01T00:00:00", neither milliseconds since the epoch nor an ISO-8601 time with a zone'
  },
  {
    name: "a bad synthetic flag",
    file: "flag.csv",
    content: `${CSV_HEADER},synthetic\n${T0},100,101.5,99.25,100.75,12.5,yes\n`,
    reason: "invalid-candle",
    expected: 'line 2: synthetic is "yes", not 0 or 1'
  },
  {
    name: "inconsistent OHLC",
    file: "ohlc.csv",
    content: csvWith(5, 5, `${T0 + 3 * FIVE_MINUTES},100,101.5,99.25,102,12.5`),
    reason: "invalid-candle",
    expected: "line 5: candle at 1700000900000 is inconsistent: low 99.25 and high 101.5 must bracket open 100 and close 102",
    endToEnd: true
  },
  {
    name: "an open time going back",
    file: "unsorted.csv",
    content: csvWith(12, 12, `${T0 + FIVE_MINUTES},100,101.5,99.25,100.75,12.5`),
    reason: "out-of-order",
    expected: "line 12: openTime 1700000300000 is not after the previous (line 11)",
    endToEnd: true
  },
  {
    name: "a repeated open time",
    file: "duplicate.csv",
    content: csvWith(6, 5, `${T0 + 2 * FIVE_MINUTES},100,101.5,99.25,100.75,12.5`),
    reason: "out-of-order",
    expected: "line 5: openTime 1700000600000 is not after the previous (line 4)",
    endToEnd: true
  },
  {
    name: "a short row",
    file: "short.csv",
    content: csvWith(3, 3, `${T0 + FIVE_MINUTES},100,101.5,99.25,100.75`),
    reason: "malformed",
    expected: "line 3: 5 fields, but the header (line 1) names 6 columns"
  },
  {
    name: "blank lines and CRLF, counted",
    file: "crlf.csv",
    content: `${CSV_HEADER}\r\n\r\n${T0},100,101.5,99.25,100.75,12.5\r\n\r\n${T0 + FIVE_MINUTES},1,1,1,x,1\r\n`,
    reason: "invalid-candle",
    expected: 'line 5: close is "x", not a number'
  },
  {
    name: "an empty JSON file",
    file: "empty.json",
    content: " \n",
    reason: "empty",
    expected: "the file is empty; a JSON candle file holds an array of candles"
  },
  { name: "an empty JSON array", file: "none.json", content: "[]", reason: "empty", expected: "no candles: the array is empty" },
  {
    name: "JSON that is not an array",
    file: "object.json",
    content: '{"candles":[]}',
    reason: "malformed",
    expected: "expected a JSON array of candles, found an object"
  },
  {
    name: "a JSON element that is not an object",
    file: "element.json",
    content: jsonWith(3, 1, 42),
    reason: "malformed",
    expected: "index 1: expected a candle object, found 42"
  },
  {
    name: "a JSON non-number",
    file: "abc.json",
    content: jsonWith(5, 3, jsonCandle(T0 + 3 * FIVE_MINUTES, { close: "abc" })),
    reason: "invalid-candle",
    expected: 'index 3: close is "abc", not a number',
    endToEnd: true
  },
  {
    name: "a missing JSON field",
    file: "missing.json",
    content: jsonWith(2, 0, { openTime: T0, open: 1, high: 1, close: 1, volume: 1 }),
    reason: "invalid-candle",
    expected: "index 0: low is missing"
  },
  {
    name: "an unknown JSON field",
    file: "unknown.json",
    content: jsonWith(2, 1, jsonCandle(T0 + FIVE_MINUTES, { Synthetic: true })),
    reason: "invalid-candle",
    expected: `index 1: unknown field "Synthetic"; a candle has ${columns} and optionally synthetic`
  },
  {
    name: "a bad JSON synthetic flag",
    file: "flag.json",
    content: jsonWith(2, 1, jsonCandle(T0 + FIVE_MINUTES, { synthetic: "yes" })),
    reason: "invalid-candle",
    expected: 'index 1: synthetic is "yes", not true or false'
  },
  {
    name: "inconsistent JSON OHLC",
    file: "ohlc.json",
    content: jsonWith(2, 1, jsonCandle(T0 + FIVE_MINUTES, { low: 100.5 })),
    reason: "invalid-candle",
    expected: "index 1: candle at 1700000300000 is inconsistent: low 100.5 and high 101.5 must bracket open 100 and close 100.75"
  },
  {
    name: "a JSON open time not after the previous",
    file: "unsorted.json",
    content: jsonWith(3, 2, jsonCandle(T0 + FIVE_MINUTES)),
    reason: "out-of-order",
    expected: "index 2: openTime 1700000300000 is not after the previous (index 1)",
    endToEnd: true
  }
]
