import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import * as Timeframe from "../src/Timeframe.js"

// Times from 1970 to 2100, in ms, including values just off every boundary.
const time = fc.integer({ min: 0, max: 4_102_444_800_000 })
const timeframe = fc.constantFrom(...Timeframe.all)
const DAY = 86_400_000

describe("Timeframe", () => {
  it("has the lengths of domain.md §1", () => {
    assert.deepStrictEqual(Timeframe.durationMs, {
      "5m": 300_000,
      "15m": 900_000,
      "1h": 3_600_000,
      "4h": 14_400_000,
      "1d": 86_400_000
    })
    assert.deepStrictEqual(Timeframe.largestFirst, ["1d", "4h", "1h", "15m", "5m"])
  })

  it("parses known timeframes and rejects others with a typed error", () => {
    assert.deepStrictEqual(Timeframe.parse("4h"), Either.right("4h"))
    const rejected = Timeframe.parse("2h")
    assert.isTrue(Either.isLeft(rejected))
    if (Either.isLeft(rejected)) {
      assert.strictEqual(rejected.left._tag, "UnknownTimeframe")
      assert.include(rejected.left.message, "\"2h\"")
    }
  })

  it.prop("floor is aligned, at or before the time, and less than one interval before it", [timeframe, time], ([tf, t]) => {
    const open = Timeframe.floor(tf, t)
    assert.isTrue(Timeframe.isAligned(tf, open))
    assert.isTrue(open <= t && t - open < Timeframe.durationMs[tf])
  })

  it.prop("floor is idempotent and nextBoundary is the following open time", [timeframe, time], ([tf, t]) => {
    const open = Timeframe.floor(tf, t)
    assert.strictEqual(Timeframe.floor(tf, open), open)
    const next = Timeframe.nextBoundary(tf, t)
    assert.isTrue(next > t && next - open === Timeframe.durationMs[tf])
    assert.strictEqual(Timeframe.floor(tf, next), next)
  })

  it.prop("lastClosedOpenTime is the candle whose close is at or before now", [timeframe, time], ([tf, now]) => {
    const open = Timeframe.lastClosedOpenTime(tf, now)
    assert.isTrue(Timeframe.closeTime(tf, open) <= now)
    assert.isTrue(Timeframe.closeTime(tf, open + Timeframe.durationMs[tf]) > now)
  })

  it("4h opens at 00/04/08/12/16/20 UTC and 1d at 00:00 UTC", () => {
    const day = Date.UTC(2025, 2, 30) // the day Europe changes clocks: UTC must not care
    const hours = Timeframe.openTimesBetween("4h", day, day + DAY - 1).map((t) => new Date(t).getUTCHours())
    assert.deepStrictEqual(hours, [0, 4, 8, 12, 16, 20])
    assert.strictEqual(Timeframe.floor("1d", day + 13 * 3_600_000 + 7), day)
  })

  it.prop("closingAt lists exactly the timeframes with a boundary there", [time], ([t]) => {
    const boundary = Timeframe.floor("5m", t)
    const closing = Timeframe.closingAt(boundary)
    assert.strictEqual(closing[0], "5m")
    for (const tf of Timeframe.all) {
      assert.strictEqual(closing.includes(tf), boundary % Timeframe.durationMs[tf] === 0)
    }
    if (boundary !== t) assert.deepStrictEqual(Timeframe.closingAt(t), [])
  })

  it("closingAt midnight UTC closes every timeframe, 01:00 closes 5m, 15m and 1h", () => {
    const midnight = Date.UTC(2026, 0, 1)
    assert.deepStrictEqual(Timeframe.closingAt(midnight), ["5m", "15m", "1h", "4h", "1d"])
    assert.deepStrictEqual(Timeframe.closingAt(midnight + 3_600_000), ["5m", "15m", "1h"])
    assert.deepStrictEqual(Timeframe.closingAt(midnight + 600_000), ["5m"])
  })

  it.prop(
    "openTimesBetween is aligned, strictly increasing by one interval, within bounds, and counted by countBetween",
    [timeframe, time, fc.integer({ min: -DAY, max: 40 * DAY })],
    ([tf, from, span]) => {
      const to = from + span
      const opens = Timeframe.openTimesBetween(tf, from, to)
      assert.strictEqual(opens.length, Timeframe.countBetween(tf, from, to))
      opens.forEach((open, i) => {
        assert.isTrue(Timeframe.isAligned(tf, open) && open >= from && open <= to)
        if (i > 0) assert.strictEqual(open - opens[i - 1]!, Timeframe.durationMs[tf])
      })
      // nothing aligned was left out at either end
      if (opens.length > 0) {
        assert.isTrue(opens[0]! - Timeframe.durationMs[tf] < from)
        assert.isTrue(opens[opens.length - 1]! + Timeframe.durationMs[tf] > to)
      } else {
        assert.isTrue(to < from || Timeframe.nextBoundary(tf, from - 1) > to)
      }
    }
  )

  it("every timeframe is built from whole 5m candles", () => {
    for (const tf of Timeframe.all) assert.isTrue(Timeframe.divides("5m", tf))
    assert.isFalse(Timeframe.divides("1h", "15m"))
  })
})
