import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as UserSettings from "../src/UserSettings.js"

const issues = (input: unknown) =>
  Either.match(UserSettings.validate(input), {
    onLeft: (found) => found.map((i) => `${i.path}: ${i.message}`),
    onRight: () => []
  })

describe("UserSettings", () => {
  it("an empty document is every default, and encodes back to a document that decodes to the same", () => {
    assert.deepStrictEqual(UserSettings.empty, { watchlist: {}, topN: {}, chart: { timeframe: "1h", bars: 300 } })
    const stored = UserSettings.encode(UserSettings.empty)
    assert.deepStrictEqual(Either.getOrThrow(UserSettings.validate(stored)), UserSettings.empty)
  })

  it("a full document decodes as written", () => {
    const input = {
      watchlist: { binance: ["SOLUSDT", "ETHBTC"], coinbase: ["BTC-USD"] },
      topN: { binance: 25 },
      chart: { timeframe: "4h", bars: 500 }
    }
    assert.deepStrictEqual<unknown>(Either.getOrThrow(UserSettings.validate(input)), input)
  })

  it("lists every problem with its path: bad symbols, repeats, limits, unknown keys, bad exchange names", () => {
    const found = issues({
      watchlist: { binance: ["SOLUSDT", "bad symbol!"], coinbase: ["BTC-USD", "BTC-USD"], "Not An Exchange": [] },
      topN: { binance: 0, coinbase: 2.5 },
      chart: { timeframe: "2h" },
      watchlst: {}
    })
    const joined = found.join("\n")
    assert.include(joined, "watchlist.binance[1]: a symbol is 1–40 letters")
    assert.include(joined, "watchlist.coinbase: BTC-USD appears more than once")
    assert.include(joined, "topN.binance: top N is a whole number from 1 to 500")
    assert.include(joined, "topN.coinbase: top N is a whole number from 1 to 500")
    assert.include(joined, "chart.timeframe: a timeframe is one of 5m, 15m, 1h, 4h, 1d")
    assert.notInclude(joined, "Expected undefined")
    assert.include(joined, "watchlst:")
    assert.include(joined, "Not An Exchange")
  })

  it("a watchlist holds at most 200 symbols; the document must be an object", () => {
    const many = Array.from({ length: 201 }, (_, i) => `S${i}USDT`)
    assert.include(issues({ watchlist: { binance: many } }).join("\n"), "at most 200 symbols")
    assert.isAbove(issues([]).length, 0)
    assert.isAbove(issues("{}").length, 0)
  })
})
