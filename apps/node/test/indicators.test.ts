/**
 * `livermore indicators macdv` as a user runs it: the real command on files written to a temporary directory,
 * its output checked against `MacdV.batch` run here on the same candles.
 */
import { assert, describe, it } from "@effect/vitest"
import { MacdV } from "@livermore/indicators"
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { stripVTControlCharacters } from "node:util"
import { badCandleFiles } from "./badCandleFiles.js"
import { root, run, temporaryDirectory } from "./support.js"
import { btcUsd1h, type ExampleCandle, GAP_AT, toCsv } from "./exampleCandles.js"

const example = path.join(root, "apps/node/examples/btc-usd-1h.csv")

const livermore = (args: ReadonlyArray<string>) => run(args)

const macdv = (file: string, ...rest: ReadonlyArray<string>) => livermore(["indicators", "macdv", "--input", file, ...rest])

const { file, path: inDirectory } = temporaryDirectory("livermore-indicators-")

const candles = btcUsd1h()
const readings = MacdV.batch(candles)

const HEADER = "openTime,macdV,signal,histogram,stage"

/** The CSV the command should print for `series`, built here from `MacdV.batch` with `String`. */
const expectedCsv = (series: ReadonlyArray<ExampleCandle>): string => {
  const text = (value: number | string | undefined) => (value === undefined ? "" : String(value))
  const lines = MacdV.batch(series).map((reading, i) =>
    reading._tag === "Value"
      ? `${series[i]!.openTime},${text(reading.macdV)},${text(reading.signal)},${text(reading.histogram)},${text(reading.stage)}`
      : `${series[i]!.openTime},,,,`
  )
  return `${HEADER}\n${lines.join("\n")}\n`
}

/** A number field of the output: empty (CSV) or null (JSON) means no value. */
const assertField = (actual: string | number | null, expected: number | undefined, where: string) => {
  if (expected === undefined) assert.isTrue(actual === "" || actual === null, `${where}: expected no value, got ${actual}`)
  else assert.strictEqual(typeof actual === "string" ? Number(actual) : actual, expected, where)
}

describe("livermore indicators macdv", () => {
  it("the example file is the generator's output, with synthetic candles", () => {
    const text = readFileSync(example, "utf8")
    assert.strictEqual(text, toCsv(candles))
    assert.lengthOf(candles, 120)
    assert.isTrue(candles[GAP_AT]!.synthetic && candles[GAP_AT + 1]!.synthetic)
    assert.strictEqual(candles.filter((candle) => candle.synthetic).length, 2)
  })

  it("CSV in, CSV out: one row per candle, equal to MacdV.batch to the last bit", async () => {
    const { code, stdout, stderr } = await macdv(example)
    assert.strictEqual(code, 0, stderr)
    assert.strictEqual(stderr, "")
    const lines = stdout.split("\n")
    assert.strictEqual(lines.pop(), "", "the output ends with a newline")
    assert.strictEqual(lines[0], HEADER)
    const rows = lines.slice(1).map((line) => line.split(","))
    assert.lengthOf(rows, candles.length)

    for (let i = 0; i < rows.length; i++) {
      const [openTime, macdV, signal, histogram, stage, ...extra] = rows[i]!
      const reading = readings[i]!
      const where = `row ${i}`
      assert.deepStrictEqual(extra, [], where)
      assert.strictEqual(Number(openTime), candles[i]!.openTime, where)
      if (reading._tag === "NoValue") {
        assert.deepStrictEqual([macdV, signal, histogram, stage], ["", "", "", ""], where)
        continue
      }
      assertField(macdV!, reading.macdV, `${where} macdV`)
      assertField(signal!, reading.signal, `${where} signal`)
      assertField(histogram!, reading.histogram, `${where} histogram`)
      assert.strictEqual(stage, reading.stage ?? "", `${where} stage`)
      // The shortest text that reads back as the same double: what String gives, never a rounded toFixed.
      assert.strictEqual(macdV, String(reading.macdV), where)
    }

    // Before seeding every field is empty; the first value comes with the 26th candle, the signal 8 values later.
    const firstValue = readings.findIndex((reading) => reading._tag === "Value")
    assert.strictEqual(firstValue, MacdV.ATR_PERIOD - 1)
    assert.deepStrictEqual(rows[firstValue - 1]!.slice(1), ["", "", "", ""])
    assert.notStrictEqual(rows[firstValue]![1], "")
    assert.strictEqual(rows[firstValue + MacdV.SIGNAL - 2]![2], "")
    assert.notStrictEqual(rows[firstValue + MacdV.SIGNAL - 1]![2], "")
    // Full precision: the values are not all short decimals.
    assert.isTrue(rows.some((row) => (row[1] ?? "").replace(/^-?\d*\./, "").length >= 12))
  })

  it("columns in any order, ISO-8601 open times, padded and quoted cells, CRLF and blank lines: the same output", async () => {
    const lines = candles.map((c) =>
      [c.close, ` ${c.synthetic ? 1 : 0} `, `"${c.volume}"`, new Date(c.openTime).toISOString(), c.low, c.high, c.open].join(",")
    )
    const input = file("shuffled.csv", `close,synthetic,volume,openTime,low,high,open\r\n\r\n${lines.join("\r\n")}\r\n`)
    const { code, stdout, stderr } = await macdv(input)
    assert.strictEqual(code, 0, stderr)
    assert.strictEqual(stdout, expectedCsv(candles))
  })

  it("JSON in, JSON out (and JSON in, CSV out)", async () => {
    const json = candles.map(({ synthetic, ...candle }) => (synthetic ? { ...candle, synthetic: true } : candle))
    const input = file("candles.json", JSON.stringify(json, null, 2))

    const asJson = await macdv(input, "--format", "json")
    assert.strictEqual(asJson.code, 0, asJson.stderr)
    const output = JSON.parse(asJson.stdout) as ReadonlyArray<Record<string, string | number | null>>
    assert.lengthOf(output, candles.length)
    output.forEach((row, i) => {
      const reading = readings[i]!
      const where = `element ${i}`
      assert.deepStrictEqual(Object.keys(row), ["openTime", "macdV", "signal", "histogram", "stage"], where)
      assert.strictEqual(row.openTime, candles[i]!.openTime, where)
      if (reading._tag === "NoValue") {
        assert.deepStrictEqual([row.macdV, row.signal, row.histogram, row.stage], [null, null, null, null], where)
        return
      }
      assertField(row.macdV!, reading.macdV, `${where} macdV`)
      assertField(row.signal!, reading.signal, `${where} signal`)
      assertField(row.histogram!, reading.histogram, `${where} histogram`)
      assert.strictEqual(row.stage, reading.stage ?? null, `${where} stage`)
    })

    const asCsv = await macdv(input)
    assert.strictEqual(asCsv.code, 0, asCsv.stderr)
    assert.strictEqual(asCsv.stdout, expectedCsv(candles))
  })

  it("--help on the group and the command describes both formats", async () => {
    const top = await livermore(["--help"])
    assert.strictEqual(top.code, 0, top.stderr)
    assert.include(stripVTControlCharacters(top.stdout), "indicators")
    for (const args of [
      ["indicators", "--help"],
      ["indicators", "macdv", "--help"]
    ]) {
      const { code, stdout, stderr } = await livermore(args)
      assert.strictEqual(code, 0, stderr)
      const text = stripVTControlCharacters(stdout)
      assert.include(text, "USAGE")
      for (const words of [".csv", ".json", "openTime,open,high,low,close,volume", HEADER, "synthetic"]) {
        assert.include(text, words, `${args.join(" ")}: ${words}`)
      }
    }
  })

  it("rejects an unknown --format", async () => {
    const { code, stdout, stderr } = await macdv(example, "--format", "xml")
    assert.strictEqual(code, 1)
    assert.strictEqual(stdout, "")
    assert.include(stderr, "csv, json")
  })
})

describe.concurrent("a file that cannot be used: one line on stderr naming the place, exit 1, no output", () => {
  for (const bad of badCandleFiles.filter((bad) => bad.endToEnd === true)) {
    it(bad.name, async () => {
      const input = bad.content === undefined ? inDirectory(bad.file) : file(bad.file, bad.content)
      const { code, stdout, stderr } = await macdv(input)
      assert.strictEqual(code, 1)
      assert.strictEqual(stdout, "")
      assert.deepStrictEqual(stderr.split("\n"), [`livermore: ${input}: ${bad.expected}`, ""])
    })
  }
})
