/** AlertBreaker: opening on the (max + 1)th alert of a series in the window, staying open, closing, bounds. */
import { assert, describe, it } from "@effect/vitest"
import { Alert, Exchange, Market } from "@livermore/domain"
import { DateTime } from "effect"
import * as AlertBreaker from "../src/AlertBreaker.js"

const SECOND = 1_000
const MINUTE = 60 * SECOND

describe("AlertBreaker", () => {
  it("allows 15 alerts of a series in 3 minutes and opens on the 16th, once", () => {
    const breaker = AlertBreaker.make()
    const decisions = Array.from({ length: 20 }, (_, i) => breaker.record("1:BTCUSDT:5m", i * SECOND))
    assert.deepStrictEqual(
      decisions.map((d) => d.allowed),
      [...Array(15).fill(true), ...Array(5).fill(false)]
    )
    assert.deepStrictEqual(
      decisions.flatMap((d, i) => (d.opened ? [i] : [])),
      [15]
    )
    assert.isTrue(decisions.every((d) => !d.closed))
    assert.isTrue(decisions.every((d) => d.count <= 16))
    assert.isTrue(breaker.isOpen("1:BTCUSDT:5m"))
  })

  it("other series are not affected", () => {
    const breaker = AlertBreaker.make({ max: 2, window: "1 minute" })
    for (let i = 0; i < 3; i++) breaker.record("a", i)
    assert.isTrue(breaker.isOpen("a"))
    assert.isTrue(breaker.record("b", 3).allowed)
    assert.isFalse(breaker.isOpen("b"))
  })

  it("stays open while the flood goes on, and closes once the window holds at most max again", () => {
    const breaker = AlertBreaker.make({ max: 3, window: "1 minute" })
    const key = "series"
    // Four alerts at 0, 10, 20, 30 s: the fourth opens the breaker.
    for (const t of [0, 10, 20]) assert.isTrue(breaker.record(key, t * SECOND).allowed)
    const fourth = breaker.record(key, 30 * SECOND)
    assert.deepStrictEqual([fourth.allowed, fourth.opened], [false, true])
    // Suppressed alerts count too: at 50 s the window (−10 s, 50 s] holds 0…50 → still open.
    assert.isFalse(breaker.record(key, 50 * SECOND).allowed)
    // At 75 s, 0 and 10 left the window: 20, 30, 50, 75 → four, still more than three.
    const still = breaker.record(key, 75 * SECOND)
    assert.deepStrictEqual([still.allowed, still.opened, still.closed], [false, false, false])
    // At 125 s only 75 and 125 remain: closed, reported once.
    const calm = breaker.record(key, 125 * SECOND)
    assert.deepStrictEqual([calm.allowed, calm.opened, calm.closed, calm.count], [true, false, true, 2])
    const after = breaker.record(key, 126 * SECOND)
    assert.deepStrictEqual([after.allowed, after.closed], [true, false])
  })

  it("a timestamp exactly one window old has left the window", () => {
    const breaker = AlertBreaker.make({ max: 1, window: "1 minute" })
    breaker.record("k", 0)
    assert.isTrue(breaker.record("k", MINUTE).allowed)
    assert.isFalse(breaker.record("k", MINUTE + 1).allowed)
  })

  it("a clock stepping back is treated as standing still", () => {
    const breaker = AlertBreaker.make({ max: 2, window: "10 seconds" })
    breaker.record("k", 100 * SECOND)
    breaker.record("k", 50 * SECOND)
    const third = breaker.record("k", 60 * SECOND)
    assert.isFalse(third.allowed)
    assert.strictEqual(third.count, 3)
  })

  it("keeps at most max + 1 timestamps per series and forgets idle series", () => {
    const breaker = AlertBreaker.make({ max: 5, window: "1 minute" })
    let last = { count: 0 }
    for (let i = 0; i < 10_000; i++) last = breaker.record("flood", i)
    assert.strictEqual(last.count, 6)
    for (let s = 0; s < 1_000; s++) breaker.record(`quiet-${s}`, 20 * SECOND)
    assert.strictEqual(breaker.trackedSeries, 1_001)
    // Two windows later a sweep drops every closed, idle series; the open "flood" is kept until its next alert.
    breaker.record("late", 3 * MINUTE)
    assert.strictEqual(breaker.trackedSeries, 2)
    const flood = breaker.record("flood", 3 * MINUTE + 1)
    assert.deepStrictEqual([flood.allowed, flood.closed], [true, true])
  })

  it("rejects a max that is not a positive integer and a window that is not positive and finite", () => {
    assert.throws(() => AlertBreaker.make({ max: 0 }), RangeError)
    assert.throws(() => AlertBreaker.make({ max: 1.5 }), RangeError)
    assert.throws(() => AlertBreaker.make({ window: "0 millis" }), RangeError)
    assert.throws(() => AlertBreaker.make({ window: Infinity }), RangeError)
  })

  it("keys a series by exchange, symbol and timeframe; describes windows for humans", () => {
    const alert = new Alert.Alert({
      exchangeId: Exchange.ExchangeId.make(3),
      exchangeName: Exchange.ExchangeName.make("binance"),
      symbol: Market.SymbolId.make("ETHUSDT"),
      timeframe: "15m",
      label: Alert.AlertLabel.make("level_+150"),
      value: 151,
      price: 3000,
      candleOpenTime: 0,
      triggeredAt: DateTime.unsafeMake(0),
      details: new Alert.AlertDetails({ valuesByTimeframe: {}, bias: "bullish" })
    })
    assert.strictEqual(AlertBreaker.seriesKey(alert), "3:ETHUSDT:15m")
    assert.strictEqual(AlertBreaker.describeWindow("3 minutes"), "3 minutes")
    assert.strictEqual(AlertBreaker.describeWindow("1 minute"), "1 minute")
    assert.strictEqual(AlertBreaker.describeWindow("90 seconds"), "90 seconds")
    assert.strictEqual(AlertBreaker.describeWindow("1500 millis"), "1500 ms")
  })
})
