import { assert, describe, it } from "@effect/vitest"
import { Timeframe } from "@livermore/domain"
import { FastCheck as fc } from "effect"
import * as Pagination from "../src/Pagination.js"

const M5 = Timeframe.durationMs["5m"]
const T0 = Date.UTC(2024, 0, 1)

describe("Pagination.windows", () => {
  it("one window when the range fits the limit exactly; a second for one candle more", () => {
    assert.deepStrictEqual(Pagination.windows("5m", T0, T0 + 999 * M5, 1000), [
      { from: T0, to: T0 + 999 * M5, count: 1000 }
    ])
    assert.deepStrictEqual(Pagination.windows("5m", T0, T0 + 1000 * M5, 1000), [
      { from: T0, to: T0 + 999 * M5, count: 1000 },
      { from: T0 + 1000 * M5, to: T0 + 1000 * M5, count: 1 }
    ])
  })

  it("Coinbase: 1000 hourly candles in 350-candle pages", () => {
    const H1 = Timeframe.durationMs["1h"]
    const pages = Pagination.windows("1h", T0, T0 + 999 * H1, 350)
    assert.deepStrictEqual(
      pages.map((p) => p.count),
      [350, 350, 300]
    )
    assert.strictEqual(pages[1]?.from, T0 + 350 * H1)
  })

  it("rounds unaligned bounds inwards and gives nothing for an empty range", () => {
    assert.deepStrictEqual(Pagination.windows("5m", T0 + 1, T0 + 2 * M5 + 1, 10), [
      { from: T0 + M5, to: T0 + 2 * M5, count: 2 }
    ])
    assert.deepStrictEqual(Pagination.windows("5m", T0 + 1, T0 + M5 - 1, 10), [])
    assert.deepStrictEqual(Pagination.windows("1d", T0 + 10, T0, 10), [])
    assert.deepStrictEqual(Pagination.windows("1d", T0, T0, 10), [{ from: T0, to: T0, count: 1 }])
  })

  it("rejects a limit below 1", () => {
    assert.throws(() => Pagination.windows("5m", T0, T0, 0), RangeError)
    assert.throws(() => Pagination.windows("5m", T0, T0, 1.5), RangeError)
  })

  it.prop(
    "windows are ordered, within the limit and cover every open time of the range exactly once",
    [
      fc.constantFrom(...Timeframe.all),
      fc.integer({ min: 0, max: 4_000_000_000_000 }),
      fc.integer({ min: -Timeframe.durationMs["1d"], max: 60 * Timeframe.durationMs["1d"] }),
      fc.integer({ min: 1, max: 1000 })
    ],
    ([timeframe, from, span, limit]) => {
      const to = from + span
      const pages = Pagination.windows(timeframe, from, to, limit)
      const interval = Timeframe.durationMs[timeframe]
      const covered: Array<number> = []
      for (const page of pages) {
        assert.isAtMost(page.count, limit)
        assert.strictEqual(page.count, (page.to - page.from) / interval + 1)
        for (let t = page.from; t <= page.to; t += interval) covered.push(t)
      }
      assert.deepStrictEqual(covered, Timeframe.openTimesBetween(timeframe, from, to))
      assert.strictEqual(pages.length, Math.ceil(Timeframe.countBetween(timeframe, from, to) / limit))
    }
  )
})
