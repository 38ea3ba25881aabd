import { assert, describe, it } from "@effect/vitest"
import { DateTime, Either, FastCheck as fc, Schema } from "effect"
import * as Alert from "../src/Alert.js"
import * as Candle from "../src/Candle.js"
import * as Control from "../src/Control.js"
import * as Exchange from "../src/Exchange.js"
import * as Market from "../src/Market.js"

const decodes = <A, I>(schema: Schema.Schema<A, I>, input: unknown): boolean =>
  Either.isRight(Schema.decodeUnknownEither(schema)(input))

const candle = { openTime: 1_700_000_100_000, open: 10, high: 12, low: 9, close: 11, volume: 3, closed: true, synthetic: false }

describe("Candle", () => {
  it("accepts a consistent candle and rejects inconsistent or negative ones", () => {
    assert.isTrue(decodes(Candle.Candle, candle))
    assert.isFalse(decodes(Candle.Candle, { ...candle, high: 10.5 }))
    assert.isFalse(decodes(Candle.Candle, { ...candle, low: 10.5 }))
    assert.isFalse(decodes(Candle.Candle, { ...candle, volume: -1 }))
    assert.isFalse(decodes(Candle.Candle, { ...candle, close: Number.NaN }))
    assert.isFalse(decodes(Candle.Candle, { ...candle, openTime: 1.5 }))
  })

  it("a synthetic candle is flat at the previous close with no volume", () => {
    const filled = Candle.synthetic(1_700_000_400_000, 11.25)
    assert.deepStrictEqual(
      { ...filled },
      { openTime: 1_700_000_400_000, open: 11.25, high: 11.25, low: 11.25, close: 11.25, volume: 0, closed: true, synthetic: true }
    )
  })
})

describe("Candle fast paths", () => {
  const decode = Schema.decodeUnknownEither(Candle.Candle)
  const encodeJson = Schema.encodeSync(Schema.parseJson(Candle.Candle))
  const number = fc.oneof(
    fc.double({ min: -10, max: 1e6, noNaN: false }),
    fc.constantFrom(0, -0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -1)
  )
  const fields = fc.record({
    openTime: fc.oneof(fc.integer({ min: -5, max: 2_000_000_000_000 }), fc.constantFrom(1.5, Number.NaN, 2 ** 60)),
    open: number,
    high: number,
    low: number,
    close: number,
    volume: number,
    closed: fc.boolean(),
    synthetic: fc.boolean()
  })

  it("violation gives the schema's verdict on any fields", () => {
    fc.assert(
      fc.property(fields, (f) => {
        assert.strictEqual(Candle.violation(f) === undefined, Either.isRight(decode(f)), JSON.stringify(f))
      }),
      { numRuns: 5000 }
    )
  })

  it("toJson writes exactly what the schema encodes", () => {
    const price = fc.double({ min: 0, max: 1e6, noNaN: true })
    const valid = fc
      .record({ openTime: fc.integer({ min: 0, max: 2_000_000_000_000 }), low: price, a: price, b: price, up: price, volume: price })
      .chain(({ openTime, low, a, b, up, volume }) =>
        fc.record({
          openTime: fc.constant(openTime),
          low: fc.constant(low),
          open: fc.constant(low + a),
          close: fc.constant(low + b),
          high: fc.constant(low + Math.max(a, b) + up),
          volume: fc.constant(volume),
          closed: fc.boolean(),
          synthetic: fc.boolean()
        })
      )
      .filter((f) => Candle.violation(f) === undefined)
    fc.assert(
      fc.property(valid, (f) => {
        const candle = Candle.fromChecked(f)
        assert.strictEqual(Candle.toJson(candle), encodeJson(candle))
      }),
      { numRuns: 2000 }
    )
  })
})

describe("Market", () => {
  it("keeps exchange product ids as they are and refuses ones unsafe in keys", () => {
    assert.isTrue(decodes(Market.SymbolId, "BTC-USD"))
    assert.isTrue(decodes(Market.SymbolId, "BTCUSDT"))
    assert.isFalse(decodes(Market.SymbolId, "BTC:USD"))
    assert.isFalse(decodes(Market.SymbolId, ""))
    assert.isFalse(decodes(Market.SymbolId, "BTC USD"))
  })
})

describe("Exchange", () => {
  it("names are lowercase machine names; ids are positive integers", () => {
    for (const name of Exchange.knownNames) assert.isTrue(decodes(Exchange.ExchangeName, name))
    assert.isFalse(decodes(Exchange.ExchangeName, "Binance"))
    assert.isFalse(decodes(Exchange.ExchangeId, 0))
    assert.strictEqual(new Exchange.UnknownExchange({ exchange: "ftx" }).message, 'No exchange named "ftx"')
  })
})

describe("Alert labels", () => {
  it("accepts every level at or beyond ±150 in steps of 50 and the two reversals", () => {
    for (const label of ["level_-150", "level_-200", "level_-1050", "level_+150", "level_+300", "reversal_oversold", "reversal_overbought"]) {
      assert.isTrue(decodes(Alert.AlertLabel, label), label)
    }
    for (const label of ["level_-100", "level_150", "level_+175", "level_-50", "reversal", ""]) {
      assert.isFalse(decodes(Alert.AlertLabel, label), label)
    }
  })

  it("builds and reads level labels", () => {
    assert.strictEqual(Alert.levelLabelFor(-200), "level_-200")
    assert.strictEqual(Alert.levelLabelFor(150), "level_+150")
    assert.strictEqual(Alert.levelOf("level_-250"), -250)
    assert.strictEqual(Alert.levelOf("reversal_oversold"), undefined)
  })
})

describe("Control", () => {
  const issuedAt = "2026-11-21T10:00:00.000Z"

  it("decodes commands by their name and orders stop first", () => {
    const decode = Schema.decodeUnknownSync(Control.Command)
    const stop = decode({ _tag: "stop", id: "c1", issuedAt, issuedBy: "admin", reason: "maintenance" })
    const backfill = decode({ _tag: "force-backfill", id: "c2", issuedAt, issuedBy: "admin", timeframes: ["1h"] })
    assert.strictEqual(stop._tag, "stop")
    assert.isTrue(Control.priority(stop) > Control.priority(backfill))
    assert.isFalse(decodes(Control.Command, { _tag: "reboot", id: "c3", issuedAt, issuedBy: "admin" }))
    assert.isFalse(decodes(Control.Command, { _tag: "switch-mode", id: "c4", issuedAt, issuedBy: "admin", mode: "turbo" }))
  })

  it("a timeout names the command and the wait", () => {
    const timeout = new Control.CommandTimeout({ commandId: "c1", command: "stop", waitedMs: 5000 })
    assert.strictEqual(timeout.message, "No result for stop (c1) after 5000 ms")
    assert.isTrue(DateTime.isDateTime(Schema.decodeSync(Control.Ack)({ _tag: "ack", commandId: "c1", instanceId: "i", receivedAt: issuedAt }).receivedAt))
  })
})
