/**
 * MACD-V over a candle series as a table, one row per candle, written as CSV or JSON. Numbers are written in
 * full: the shortest decimal that reads back as the same double (`String` and `JSON.stringify` both give it).
 */
import type { Candle } from "@livermore/domain"
import { MacdV, type Stage } from "@livermore/indicators"

/** The output formats. */
export const formats = ["csv", "json"] as const

/** `csv` or `json`. */
export type Format = (typeof formats)[number]

/** The columns, in order: the CSV header and the keys of each JSON object. */
export const columns = ["openTime", "macdV", "signal", "histogram", "stage"] as const

/** The indicator after one candle; `undefined` where it has no value yet (empty in CSV, null in JSON). */
export interface Row {
  /** The candle's open time, ms since the epoch. */
  readonly openTime: number
  readonly macdV: number | undefined
  readonly signal: number | undefined
  readonly histogram: number | undefined
  readonly stage: Stage.Stage | undefined
}

/** One row per candle, from `MacdV.batch` over the whole series. */
export const rows = (candles: ReadonlyArray<Candle.Candle>): ReadonlyArray<Row> => {
  const readings = MacdV.batch(candles)
  return candles.map((candle, i): Row => {
    const reading = readings[i]!
    return reading._tag === "Value"
      ? {
          openTime: candle.openTime,
          macdV: reading.macdV,
          signal: reading.signal,
          histogram: reading.histogram,
          stage: reading.stage
        }
      : { openTime: candle.openTime, macdV: undefined, signal: undefined, histogram: undefined, stage: undefined }
  })
}

const csvField = (value: number | string | undefined): string => (value === undefined ? "" : String(value))

const csvLine = (row: Row): string =>
  `${row.openTime},${csvField(row.macdV)},${csvField(row.signal)},${csvField(row.histogram)},${csvField(row.stage)}\n`

// Keys written out in column order, so every line has the same shape.
const jsonObject = (row: Row): string =>
  JSON.stringify({
    openTime: row.openTime,
    macdV: row.macdV ?? null,
    signal: row.signal ?? null,
    histogram: row.histogram ?? null,
    stage: row.stage ?? null
  })

/**
 * The table as text, in pieces of up to `rowsPerPiece` rows each, so a long series is written piece by piece
 * rather than built as one string. CSV: the header, then a line per row. JSON: an array, one object per line.
 */
export function* render(rows: ReadonlyArray<Row>, format: Format, rowsPerPiece = 2048): Generator<string> {
  let piece = format === "csv" ? `${columns.join(",")}\n` : "[\n"
  for (let i = 0; i < rows.length; i++) {
    piece += format === "csv" ? csvLine(rows[i]!) : `${jsonObject(rows[i]!)}${i < rows.length - 1 ? ",\n" : "\n"}`
    if ((i + 1) % rowsPerPiece === 0) {
      yield piece
      piece = ""
    }
  }
  yield format === "csv" ? piece : `${piece}]\n`
}
