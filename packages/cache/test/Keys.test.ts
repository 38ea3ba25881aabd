import { assert, describe, it } from "@effect/vitest"
import { Exchange, Market } from "@livermore/domain"
import * as Keys from "../src/Keys.js"

const exchangeId = Exchange.ExchangeId.make(7)
const symbol = Market.SymbolId.make("BTC-USD")
const series = { exchangeId, symbol, timeframe: "1h" } as const

describe("Keys (domain.md §4, literally)", () => {
  it("candle, indicator and ticker keys", () => {
    assert.strictEqual(Keys.candles(series), "candles:7:BTC-USD:1h")
    assert.strictEqual(Keys.userCandles("u-42", series), "usercandles:u-42:7:BTC-USD:1h")
    assert.strictEqual(Keys.indicator(series), "indicator:7:BTC-USD:1h:macdv")
    assert.strictEqual(Keys.ticker(exchangeId, symbol), "ticker:7:BTC-USD")
  })

  it("pub/sub channels", () => {
    assert.strictEqual(Keys.tickerChannel(exchangeId, symbol), "channel:ticker:7:BTC-USD")
    assert.strictEqual(Keys.candleCloseChannel(series), "channel:exchange:7:candle:close:BTC-USD:1h")
    assert.strictEqual(Keys.alertsChannel(exchangeId), "channel:alerts:7")
    assert.strictEqual(Keys.indicatorChannel(series), "channel:indicator:7:BTC-USD:1h:macdv")
    assert.strictEqual(Keys.indicatorChannel(series, "macdv"), "channel:indicator:7:BTC-USD:1h:macdv")
  })

  it("the once-only claim of an alert", () => {
    assert.strictEqual(
      Keys.alertOnce(exchangeId, symbol, "15m", "level_+150", 1_700_000_100_000),
      "alert:once:7:BTC-USD:15m:level_+150:1700000100000"
    )
    assert.strictEqual(
      Keys.alertOnce(exchangeId, symbol, "1d", "reversal_oversold", 0),
      "alert:once:7:BTC-USD:1d:reversal_oversold:0"
    )
  })

  it("exchange status, lock, log and warmup keys", () => {
    assert.strictEqual(Keys.status(exchangeId), "exchange:7:status")
    assert.strictEqual(Keys.lock(exchangeId), "exchange:7:lock")
    assert.strictEqual(Keys.lockEpoch(exchangeId), "exchange:7:lock:epoch")
    assert.strictEqual(Keys.networkLog(Exchange.ExchangeName.make("binance_us")), "logs:network:binance_us")
    assert.strictEqual(Keys.warmupSchedule(exchangeId), "exchange:7:warm-up-schedule:symbols")
    assert.strictEqual(Keys.warmupStats(exchangeId), "exchange:7:warm-up-schedule:stats")
  })

  it("a Market.Series works as a series key", () => {
    const fromClass = new Market.Series({ exchangeId, symbol: Market.SymbolId.make("BTCUSDT"), timeframe: "5m" })
    assert.strictEqual(Keys.candles(fromClass), "candles:7:BTCUSDT:5m")
  })

  it("status keys are recognised for SCAN, and nothing else is", () => {
    assert.strictEqual(Keys.statusPattern, "exchange:*:status")
    assert.strictEqual(Keys.parseStatus("exchange:7:status"), 7)
    assert.isUndefined(Keys.parseStatus("exchange:7:lock"))
    assert.isUndefined(Keys.parseStatus("exchange:7:warm-up-schedule:status"))
  })

  it("escapes glob metacharacters of a namespace prefix", () => {
    assert.strictEqual(Keys.escapeGlob("run[1]*?\\:"), "run\\[1\\]\\*\\?\\\\:")
    assert.strictEqual(Keys.escapeGlob("plain:"), "plain:")
  })
})
