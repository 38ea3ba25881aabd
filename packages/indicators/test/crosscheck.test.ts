import { assert, describe, it } from "@effect/vitest"
import { ATR, EMA } from "trading-signals"
import * as MacdV from "../src/MacdV.js"
import * as Reference from "./reference.js"

// A standard series: 500 observed bars of a deterministic OHLC random walk (no synthetic candles, which
// trading-signals has no notion of).
const bars = Reference.series(2024, 30_000, [{ kind: "walk", bars: 500, volatility: 0.015 }])
const states: Array<MacdV.State> = []
for (const bar of bars) states.push(MacdV.step(states.at(-1) ?? MacdV.initial, bar))

const relative = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b))

describe("cross-check with trading-signals 8.3.0", () => {
  it("Wilder ATR(26): undefined through bar 24, then equal on every bar from 25", () => {
    const atr = new ATR(26)
    for (const [t, bar] of bars.entries()) {
      const theirs = atr.update({ high: bar.high, low: bar.low, close: bar.close }, false)
      const ours = states[t]!.atr
      if (t < 25) {
        assert.strictEqual(theirs, null, `theirs at bar ${t}`)
        assert.strictEqual(ours, null, `ours at bar ${t}`)
        continue
      }
      if (theirs === null || ours === null) {
        assert.fail(`bar ${t}: ours ${ours}, theirs ${theirs}`)
      }
      // Both seed with the SMA of the first 26 TRs; theirs smooths as prev + (TR − prev)/26, ours as
      // (prev·25 + TR)/26: the same value up to rounding.
      assert.isAtMost(relative(ours, theirs), 1e-9, `ATR at bar ${t}: ${ours} vs ${theirs}`)
    }
  })

  it("EMA(12) and EMA(26) agree once the different seeds have washed out (bars 300..499)", () => {
    // trading-signals seeds its EMA with the first price (EMA = price at bar 0), domain.md §2 with the SMA of the
    // first n closes at bar n − 1. After that both apply α·x + (1 − α)·EMA, so the seeds' difference decays by
    // (1 − α) a bar: (25/27)^275 ≈ 6e-10 for EMA26, far less for EMA12; from bar 300 the two must agree to 1e-9.
    const fast = new EMA(12)
    const slow = new EMA(26)
    let differedEarly = false
    for (const [t, bar] of bars.entries()) {
      const theirFast = fast.update(bar.close, false)
      const theirSlow = slow.update(bar.close, false)
      const ours = states[t]!
      if (t === 30 && ours.slowEma !== null) differedEarly = relative(ours.slowEma, theirSlow) > 1e-9
      if (t < 300) continue
      if (ours.fastEma === null || ours.slowEma === null) {
        assert.fail(`bar ${t}: EMAs undefined`)
      }
      assert.isAtMost(relative(ours.fastEma, theirFast), 1e-9, `EMA12 at bar ${t}`)
      assert.isAtMost(relative(ours.slowEma, theirSlow), 1e-9, `EMA26 at bar ${t}`)
    }
    // Shortly after seeding they do differ, which is why the comparison waits.
    assert.isTrue(differedEarly)
  })
})
