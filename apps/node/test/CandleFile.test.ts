/** `CandleFile.read` in process: every rejected file with its exact message and reason, and what a good file decodes to. */
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Candle } from "@livermore/domain"
import { Effect } from "effect"
import * as CandleFile from "../src/CandleFile.js"
import { badCandleFiles } from "./badCandleFiles.js"
import { temporaryDirectory } from "./support.js"

const { file, path: inDirectory } = temporaryDirectory("livermore-candle-file-")

const read = (input: string) => CandleFile.read(input).pipe(Effect.provide(NodeFileSystem.layer))

describe("CandleFile.read rejects", () => {
  for (const bad of badCandleFiles) {
    it.effect(bad.name, () =>
      Effect.gen(function* () {
        const input = bad.content === undefined ? inDirectory(bad.file) : file(bad.file, bad.content)
        const error = yield* Effect.flip(read(input))
        assert.strictEqual(error._tag, "CandleFileError")
        assert.strictEqual(error.reason, bad.reason)
        assert.strictEqual(error.file, input)
        assert.strictEqual(error.message, `${input}: ${bad.expected}`)
      })
    )
  }

  it.effect("malformed JSON, with the parser's reason", () =>
    Effect.gen(function* () {
      const input = file("broken.json", '[{"openTime": 1,')
      const error = yield* Effect.flip(read(input))
      assert.strictEqual(error.reason, "malformed")
      assert.isTrue(error.message.startsWith(`${input}: not valid JSON (`), error.message)
    })
  )
})

describe("CandleFile.read decodes", () => {
  const expected = [
    new Candle.Candle({ openTime: 1704067200000, open: 10, high: 11, low: 9, close: 10.5, volume: 3, closed: true, synthetic: false }),
    new Candle.Candle({ openTime: 1704070800000, open: 10.5, high: 10.5, low: 10.5, close: 10.5, volume: 0, closed: true, synthetic: true })
  ]

  it.effect("CSV: columns in any order, ISO-8601 or ms open times, a byte-order mark, closed candles", () =>
    Effect.gen(function* () {
      const input = file(
        "good.CSV",
        "\uFEFFsynthetic,close,low,high,open,volume,openTime\n0,10.5,9,11,10,3,2024-01-01T01:00:00+01:00\ntrue,10.5,10.5,10.5,10.5,0,1704070800000\n"
      )
      const candles = yield* read(input)
      assert.deepStrictEqual(candles, expected)
      assert.isTrue(candles.every((candle) => candle instanceof Candle.Candle))
    })
  )

  it.effect("JSON: synthetic defaults to false, openTime as ms or ISO-8601", () =>
    Effect.gen(function* () {
      const input = file(
        "good.json",
        JSON.stringify([
          { openTime: "2024-01-01T00:00:00.000Z", open: 10, high: 11, low: 9, close: 10.5, volume: 3 },
          { openTime: 1704070800000, open: 10.5, high: 10.5, low: 10.5, close: 10.5, volume: 0, synthetic: true }
        ])
      )
      assert.deepStrictEqual(yield* read(input), expected)
    })
  )
})
