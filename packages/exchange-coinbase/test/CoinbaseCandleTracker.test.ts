import { Candle, Market, type Timeframe } from "@livermore/domain"
import type { MarketEvent } from "@livermore/exchange"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Ref, TestClock } from "effect"
import * as Tracker from "../src/CoinbaseCandleTracker.js"

const BTC = Market.SymbolId.make("BTC-USD")
const ETH = Market.SymbolId.make("ETH-USD")
const T0 = Date.UTC(2026, 0, 5, 10, 0) // aligned to 1h
const M = 60_000
const grace = 3_000

/** A forming 5m candle at T0 + `minute` minutes; `k` varies the prices. */
const c5 = (minute: number, k = 0, volume = 1): Candle.Candle =>
  new Candle.Candle({
    openTime: T0 + minute * M,
    open: 100 + minute,
    high: 110 + minute + k,
    low: 90 + minute - k,
    close: 105 + minute + k,
    volume,
    closed: false,
    synthetic: false
  })

type CandleEvent = Extract<MarketEvent.MarketEvent, { _tag: "Candle" }>

const candles = (events: ReadonlyArray<MarketEvent.MarketEvent>): Array<CandleEvent> =>
  events.filter((e): e is CandleEvent => e._tag === "Candle")

/** `tf@minutes:closed|forming` for compact assertions. */
const show = (events: ReadonlyArray<MarketEvent.MarketEvent>): Array<string> =>
  candles(events).map(
    (e) => `${e.symbol} ${e.timeframe}@${(e.candle.openTime - T0) / M}:${e.candle.closed ? "closed" : "forming"}`
  )

const closedOf = (events: ReadonlyArray<MarketEvent.MarketEvent>, timeframe: Timeframe.Timeframe) =>
  candles(events).filter((e) => e.timeframe === timeframe && e.candle.closed)

describe("CoinbaseCandleTracker: close by a later start", () => {
  it("a later start closes the forming candle with its last values, once", () => {
    const state = Tracker.initial(["5m"], grace)
    assert.deepStrictEqual(show(Tracker.ingest(state, BTC, c5(0)).events), ["BTC-USD 5m@0:forming"])
    assert.deepStrictEqual(show(Tracker.ingest(state, BTC, c5(0, 2)).events), ["BTC-USD 5m@0:forming"])
    const step = Tracker.ingest(state, BTC, c5(5))
    assert.deepStrictEqual(show(step.events), ["BTC-USD 5m@0:closed", "BTC-USD 5m@5:forming"])
    assert.strictEqual(candles(step.events)[0]!.candle.high, 112)
    assert.strictEqual(candles(step.events)[0]!.candle.close, 107)
    // The exchange re-sends the old bucket: late, dropped, never closed twice.
    const late = Tracker.ingest(state, BTC, c5(0, 5))
    assert.deepStrictEqual(late.events, [])
    assert.deepStrictEqual(late.late, [{ symbol: BTC, openTime: T0 }])
  })

  it("products are independent", () => {
    const state = Tracker.initial(["5m"], grace)
    Tracker.ingest(state, BTC, c5(0))
    Tracker.ingest(state, ETH, c5(0))
    assert.deepStrictEqual(show(Tracker.ingest(state, BTC, c5(5)).events), [
      "BTC-USD 5m@0:closed",
      "BTC-USD 5m@5:forming"
    ])
    assert.strictEqual(Tracker.nextDeadline(state, ETH), T0 + 5 * M + grace)
  })
})

describe("CoinbaseCandleTracker: close by the clock", () => {
  it("the forming candle closes once start + 300 s + grace has passed, higher buckets at their end", () => {
    const state = Tracker.initial(["5m", "15m"], grace)
    Tracker.ingest(state, BTC, c5(0))
    assert.strictEqual(Tracker.nextDeadline(state, BTC), T0 + 5 * M + grace)
    assert.deepStrictEqual(Tracker.advance(state, BTC, T0 + 5 * M + grace - 1).events, [])
    assert.deepStrictEqual(show(Tracker.advance(state, BTC, T0 + 5 * M + grace).events), ["BTC-USD 5m@0:closed"])
    // Nothing traded in 5..15: the 15m bucket closes at its end with the one 5m candle it has.
    assert.strictEqual(Tracker.nextDeadline(state, BTC), T0 + 15 * M + grace)
    const step = Tracker.advance(state, BTC, T0 + 15 * M + grace)
    assert.deepStrictEqual(show(step.events), ["BTC-USD 15m@0:closed"])
    assert.strictEqual(Tracker.nextDeadline(state, BTC), undefined)
    // A straggler for the closed bucket is late.
    assert.deepStrictEqual(Tracker.ingest(state, BTC, c5(0, 1)).events, [])
  })
})

describe("CoinbaseCandleTracker: higher timeframes from closed 5m candles", () => {
  it("15m and 1h are the exact aggregate of their closed 5m candles", () => {
    const state = Tracker.initial(["5m", "15m", "1h"], grace)
    const all: Array<MarketEvent.MarketEvent> = []
    for (let minute = 0; minute <= 60; minute += 5) all.push(...Tracker.ingest(state, BTC, c5(minute, minute % 7, 2)).events)
    const q = closedOf(all, "15m")
    assert.deepStrictEqual(
      q.map((e) => (e.candle.openTime - T0) / M),
      [0, 15, 30, 45]
    )
    const first = q[0]!.candle
    assert.deepStrictEqual(
      { open: first.open, high: first.high, low: first.low, close: first.close, volume: first.volume },
      { open: 100, high: 123, low: 90, close: 118, volume: 6 }
    )
    const h = closedOf(all, "1h")
    assert.strictEqual(h.length, 1)
    assert.strictEqual(h[0]!.candle.open, 100)
    assert.strictEqual(h[0]!.candle.close, 105 + 55 + (55 % 7))
    assert.strictEqual(h[0]!.candle.volume, 24)
    assert.isTrue(h[0]!.candle.closed)
    // The closed 15m follows the closed 5m that completes it.
    const order = show(all)
    assert.isBelow(order.indexOf("BTC-USD 5m@10:closed"), order.indexOf("BTC-USD 15m@0:closed"))
  })

  it("forming higher candles combine the closed parts with the forming 5m", () => {
    const state = Tracker.initial(["15m"], grace)
    Tracker.ingest(state, BTC, c5(0, 0, 1))
    const step = Tracker.ingest(state, BTC, c5(5, 4, 3))
    assert.deepStrictEqual(show(step.events), ["BTC-USD 15m@0:forming"])
    const forming = candles(step.events)[0]!.candle
    assert.deepStrictEqual(
      { open: forming.open, high: forming.high, low: forming.low, close: forming.close, volume: forming.volume },
      { open: 100, high: 119, low: 90, close: 114, volume: 4 }
    )
  })

  it("a bucket missing a 5m candle because nothing traded is complete (Coinbase omits empty buckets)", () => {
    const state = Tracker.initial(["15m"], grace)
    Tracker.ingest(state, BTC, c5(0))
    Tracker.ingest(state, BTC, c5(10))
    const step = Tracker.ingest(state, BTC, c5(20))
    const q = closedOf(step.events, "15m")
    assert.strictEqual(q.length, 1)
    assert.strictEqual(q[0]!.candle.open, 100)
    assert.strictEqual(q[0]!.candle.close, 115)
    assert.strictEqual(q[0]!.candle.volume, 2)
  })

  it("a bucket that began before the first candle seen is not emitted (the engine repairs it from REST)", () => {
    const state = Tracker.initial(["15m"], grace)
    const all: Array<MarketEvent.MarketEvent> = []
    const incomplete: Array<Tracker.Incomplete> = []
    for (const minute of [5, 10, 15, 20, 25, 30]) {
      const step = Tracker.ingest(state, BTC, c5(minute))
      all.push(...step.events)
      incomplete.push(...step.incomplete)
    }
    assert.deepStrictEqual(
      closedOf(all, "15m").map((e) => (e.candle.openTime - T0) / M),
      [15]
    )
    assert.deepStrictEqual(incomplete, [{ symbol: BTC, timeframe: "15m", openTime: T0 }])
    // No forming candle is shown for a bucket that cannot be complete either.
    assert.isFalse(show(all).includes("BTC-USD 15m@0:forming"))
  })

  it("a reconnect that loses a bucket makes the higher bucket incomplete; re-receiving the last one does not", () => {
    const lossy = Tracker.initial(["15m"], grace)
    Tracker.ingest(lossy, BTC, c5(0))
    Tracker.ingest(lossy, BTC, c5(5))
    Tracker.disrupt(lossy, [BTC], T0 + 7 * M)
    const after = Tracker.ingest(lossy, BTC, c5(15))
    assert.deepStrictEqual(closedOf(after.events, "15m"), [])
    assert.deepStrictEqual(after.incomplete, [
      { symbol: BTC, timeframe: "5m", openTime: T0 + 5 * M },
      { symbol: BTC, timeframe: "15m", openTime: T0 }
    ])

    const intact = Tracker.initial(["15m"], grace)
    Tracker.ingest(intact, BTC, c5(0))
    Tracker.ingest(intact, BTC, c5(5))
    Tracker.disrupt(intact, [BTC], T0 + 7 * M)
    Tracker.ingest(intact, BTC, c5(5, 1)) // the snapshot after reconnecting re-sends the bucket
    Tracker.ingest(intact, BTC, c5(10))
    const done = Tracker.ingest(intact, BTC, c5(15))
    assert.deepStrictEqual(
      closedOf(done.events, "15m").map((e) => e.candle.high),
      [120]
    )
  })

  it("the bucket forming at a loss is never closed with its pre-loss values: dropped if a later start follows", () => {
    const state = Tracker.initial(["5m", "15m"], grace)
    Tracker.ingest(state, BTC, c5(0))
    Tracker.ingest(state, BTC, c5(5, 1))
    Tracker.disrupt(state, [BTC], T0 + 7 * M)
    // The outage outlasts the bucket: the timer must not close it (its last updates may be lost).
    assert.strictEqual(Tracker.nextDeadline(state, BTC), undefined)
    assert.deepStrictEqual(Tracker.advance(state, BTC, T0 + 30 * M).events, [])
    const back = Tracker.ingest(state, BTC, c5(15))
    assert.deepStrictEqual(show(back.events), ["BTC-USD 5m@15:forming", "BTC-USD 15m@15:forming"])
    assert.deepStrictEqual(back.incomplete, [
      { symbol: BTC, timeframe: "5m", openTime: T0 + 5 * M },
      { symbol: BTC, timeframe: "15m", openTime: T0 }
    ])
    // A straggler for the dropped bucket is late, not a second chance to close it.
    assert.deepStrictEqual(Tracker.ingest(state, BTC, c5(5, 2)).events, [])
  })

  it("the bucket forming at a loss closes normally when the stream comes back with it (nothing was lost)", () => {
    const state = Tracker.initial(["5m"], grace)
    Tracker.ingest(state, BTC, c5(0))
    Tracker.disrupt(state, [BTC], T0 + 2 * M)
    assert.deepStrictEqual(Tracker.advance(state, BTC, T0 + 6 * M).events, [])
    Tracker.ingest(state, BTC, c5(0, 4)) // the snapshot: the bucket's final values
    const closed = Tracker.advance(state, BTC, T0 + 5 * M + grace)
    assert.deepStrictEqual(show(closed.events), ["BTC-USD 5m@0:closed"])
    assert.strictEqual(candles(closed.events)[0]!.candle.high, 114)
  })

  it("higher buckets that ended before a loss still close by time during the outage", () => {
    const state = Tracker.initial(["15m"], grace)
    Tracker.ingest(state, BTC, c5(0))
    Tracker.advance(state, BTC, T0 + 5 * M + grace) // 0 closes; nothing trades in 5..15
    // The loss at 16 comes before a (late) timer finalized 0..15, which had ended, plus grace, before it.
    Tracker.disrupt(state, [BTC], T0 + 16 * M)
    assert.strictEqual(Tracker.nextDeadline(state, BTC), T0 + 15 * M + grace)
    assert.deepStrictEqual(
      closedOf(Tracker.advance(state, BTC, T0 + 40 * M).events, "15m").map((e) => (e.candle.openTime - T0) / M),
      [0]
    )
    assert.strictEqual(Tracker.nextDeadline(state, BTC), undefined)
  })

  it("5m candles are only emitted when asked for, yet still drive the higher timeframes", () => {
    const state = Tracker.initial(["1h"], grace)
    const all: Array<MarketEvent.MarketEvent> = []
    for (let minute = 0; minute <= 60; minute += 5) all.push(...Tracker.ingest(state, BTC, c5(minute)).events)
    assert.isTrue(candles(all).every((e) => e.timeframe === "1h"))
    assert.strictEqual(closedOf(all, "1h").length, 1)
  })
})

describe("CoinbaseCandleTracker: timers on the TestClock", () => {
  const collect = Effect.gen(function* () {
    const seen = yield* Ref.make<ReadonlyArray<MarketEvent.MarketEvent>>([])
    const tracker = yield* Tracker.make({
      timeframes: ["5m", "15m"],
      grace: "3 seconds",
      emit: (events) => Ref.update(seen, (all) => [...all, ...events])
    })
    return { seen, tracker }
  })

  it.scoped("a product with no later start is closed by its timer at start + 300 s + grace", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0 + 42_000)
      const { seen, tracker } = yield* collect
      yield* tracker.ingest([{ symbol: BTC, candle: c5(0) }], T0 + 42_000)
      yield* TestClock.adjust("260 seconds") // T0 + 302 s
      assert.deepStrictEqual(show(yield* Ref.get(seen)), ["BTC-USD 5m@0:forming", "BTC-USD 15m@0:forming"])
      yield* TestClock.adjust("1 second") // T0 + 303 s
      assert.deepStrictEqual(show(yield* Ref.get(seen)).slice(2), ["BTC-USD 5m@0:closed"])
      yield* TestClock.adjust("10 minutes") // past T0 + 15 m + 3 s: the 15m bucket closes too
      assert.deepStrictEqual(show(yield* Ref.get(seen)).slice(3), ["BTC-USD 15m@0:closed"])
      yield* TestClock.adjust("1 hour")
      assert.strictEqual((yield* Ref.get(seen)).length, 4)
    })
  )

  it.scoped("a later start closes first; the timer then follows the new candle and never closes twice", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0 + 10_000)
      const { seen, tracker } = yield* collect
      yield* tracker.ingest([{ symbol: BTC, candle: c5(0) }], T0 + 10_000)
      yield* TestClock.adjust("291 seconds") // T0 + 301 s: a trade opens the next bucket
      yield* tracker.ingest([{ symbol: BTC, candle: c5(5) }], T0 + 301_000)
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(show(yield* Ref.get(seen)), [
        "BTC-USD 5m@0:forming",
        "BTC-USD 15m@0:forming",
        "BTC-USD 5m@0:closed",
        "BTC-USD 5m@5:forming",
        "BTC-USD 15m@0:forming"
      ])
      yield* TestClock.adjust("5 minutes") // T0 + 10 m + 6 s: the 5m@5 timer fires
      assert.deepStrictEqual(show(yield* Ref.get(seen)).slice(5), ["BTC-USD 5m@5:closed"])
      assert.strictEqual(
        show(yield* Ref.get(seen)).filter((s) => s === "BTC-USD 5m@0:closed").length,
        1
      )
    })
  )

  it.scoped("one timer per product: each closes on its own schedule", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const { seen, tracker } = yield* collect
      yield* tracker.ingest([{ symbol: BTC, candle: c5(0) }], T0)
      yield* TestClock.adjust("5 minutes")
      yield* tracker.ingest([{ symbol: ETH, candle: c5(5) }], T0 + 5 * M)
      yield* TestClock.adjust("3 seconds")
      assert.deepStrictEqual(closedOf(yield* Ref.get(seen), "5m").map((e) => e.symbol), [BTC])
      yield* TestClock.adjust("5 minutes")
      assert.deepStrictEqual(closedOf(yield* Ref.get(seen), "5m").map((e) => e.symbol), [BTC, ETH])
    })
  )

  it.scoped("timers follow the exchange's clock from frame timestamps, not the local clock", () =>
    Effect.gen(function* () {
      // The exchange (or a simulator on its own time) is one day ahead of the local clock.
      const ahead = 86_400_000
      yield* TestClock.setTime(T0 - ahead + 60_000)
      const { seen, tracker } = yield* collect
      yield* tracker.ingest([{ symbol: BTC, candle: c5(0) }], T0 + 60_000)
      yield* TestClock.adjust("242 seconds")
      assert.deepStrictEqual(closedOf(yield* Ref.get(seen), "5m"), [])
      yield* TestClock.adjust("1 second")
      assert.strictEqual(closedOf(yield* Ref.get(seen), "5m").length, 1)
    })
  )

  it.scoped("a jump of the candles channel's clock wakes the sleeping timers to re-plan", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0 + 60_000)
      const { seen, tracker } = yield* collect
      yield* tracker.ingest([{ symbol: BTC, candle: c5(0) }], T0 + 60_000)
      yield* TestClock.adjust("1 second")
      // A candles frame (for another product) shows the exchange is 10 minutes further on than it seemed.
      yield* tracker.ingest([], T0 + 61_000 + 600_000)
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(
        closedOf(yield* Ref.get(seen), "5m").map((e) => e.candle.openTime),
        [T0]
      )
    })
  )

  it.scoped("closing the scope stops the timers", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const seen = yield* Ref.make(0)
      const fiber = yield* Effect.scoped(
        Effect.gen(function* () {
          const tracker = yield* Tracker.make({
            timeframes: ["5m"],
            grace: "3 seconds",
            emit: (events) => Ref.update(seen, (n) => n + events.length)
          })
          yield* tracker.ingest([{ symbol: BTC, candle: c5(0) }], T0)
        })
      ).pipe(Effect.fork)
      yield* Fiber.join(fiber)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* Ref.get(seen), 1)
    })
  )
})
