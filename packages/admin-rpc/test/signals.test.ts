/**
 * Signals for the admin: a series' candles with MACD-V equal to the indicator's own batch computation, the forming
 * candle without a value, the series' stored alerts; the alert history with filters; and alerts published on Redis
 * arriving on the WatchAlerts stream.
 */
import { assert, layer } from "@effect/vitest"
import { Bus, CandleCache, Keys } from "@livermore/cache"
import { Alert, Candle, type Exchange, Market, Timeframe } from "@livermore/domain"
import { MacdV } from "@livermore/indicators"
import { AdminTokensRepo, AlertsRepo, ExchangesRepo, UsersRepo } from "@livermore/store"
import { Chunk, DateTime, Effect, Fiber, Redacted, Stream } from "effect"
import * as S from "./support.js"

const HOUR = 3_600_000
const start = Date.UTC(2026, 0, 1)

/** 120 hourly candles on a deterministic wave, the last one forming. */
const candles = Array.from({ length: 120 }, (_, i) => {
  const close = 100 + 10 * Math.sin(i / 7) + i * 0.05
  const open = 100 + 10 * Math.sin((i - 1) / 7) + (i - 1) * 0.05
  return new Candle.Candle({
    openTime: start + i * HOUR,
    open,
    high: Math.max(open, close) + 0.5,
    low: Math.min(open, close) - 0.5,
    close,
    volume: 10 + i,
    closed: i < 119,
    synthetic: false
  })
})

const alertAt = (exchange: Exchange.Exchange, symbol: Market.SymbolId, openTime: number, label: string) =>
  new Alert.Alert({
    exchangeId: exchange.id,
    exchangeName: exchange.name,
    symbol,
    timeframe: "1h",
    label: label as Alert.AlertLabel,
    value: 160,
    price: 101.5,
    candleOpenTime: openTime,
    triggeredAt: DateTime.unsafeMake(openTime + HOUR),
    details: new Alert.AlertDetails({ valuesByTimeframe: { "1h": 160 }, bias: "bullish" })
  })

const adminClient = Effect.gen(function* () {
  const user = yield* (yield* UsersRepo.UsersRepo).upsert({ identityProvider: "local", subject: "signals@example.com", role: "admin" })
  const { secret } = yield* (yield* AdminTokensRepo.AdminTokensRepo).create({ userId: user.id, name: "signals" })
  return yield* S.client({ token: Redacted.value(secret) }, "websocket")
})

layer(S.serverLayer(S.settings()), { excludeTestServices: true, timeout: "60 seconds" })("admin RPC signals", (it) => {
  it.effect("Chart: the newest bars with MACD-V as the indicator computes it, none on the forming bar; the series' alerts", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const client = yield* adminClient
        const exchange = yield* (yield* ExchangesRepo.ExchangesRepo).byName("sim_binance")
        const symbol = Market.SymbolId.make("BTCUSDT")
        yield* (yield* CandleCache.CandleCache).upsertMany({ exchangeId: exchange.id, symbol, timeframe: "1h" }, candles)
        const alertsRepo = yield* AlertsRepo.AlertsRepo
        yield* alertsRepo.insertOnce(alertAt(exchange, symbol, candles[110]!.openTime, "level_+150"))
        yield* alertsRepo.insertOnce(alertAt(exchange, symbol, candles[20]!.openTime, "level_+200"))

        const chart = yield* client.Chart({ exchange: exchange.name, symbol, timeframe: "1h", limit: 50 })
        assert.lengthOf(chart.bars, 50)
        assert.strictEqual(chart.bars.at(-1)!.openTime, candles.at(-1)!.openTime)
        assert.isFalse(chart.bars.at(-1)!.closed)
        assert.isNull(chart.bars.at(-1)!.macdV, "the forming bar has no value")
        const expected = MacdV.batch(candles.filter((c) => c.closed))
        for (const bar of chart.bars.slice(0, -1)) {
          const reading = expected[(bar.openTime - start) / HOUR]!
          assert.strictEqual(reading._tag, "Value")
          if (reading._tag === "Value") {
            assert.strictEqual(bar.macdV, reading.macdV)
            assert.strictEqual(bar.signal, reading.signal ?? null)
          }
        }
        assert.deepStrictEqual(
          chart.alerts.map((a) => a.alert.label),
          ["level_+150"],
          "only the alerts among the shown bars"
        )

        const history = yield* client.Alerts({ exchange: exchange.name, symbol })
        assert.deepStrictEqual(history.map((a) => a.alert.label), ["level_+150", "level_+200"])
        assert.deepStrictEqual((yield* client.Alerts({ label: "level_+200" })).map((a) => a.alert.candleOpenTime), [candles[20]!.openTime])
        const unknown = yield* Effect.flip(client.Chart({ exchange: "nope" as Exchange.ExchangeName, symbol, timeframe: "1h" }))
        assert.strictEqual(unknown._tag, "AdminNotFound")
        assert.isTrue(Timeframe.Timeframe.literals.includes("1h"))
      })
    )
  )

  it.effect("WatchChart: the chart now, then again at once when a candle of the series closes", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const client = yield* adminClient
        const exchange = yield* (yield* ExchangesRepo.ExchangesRepo).byName("sim_binance")
        const symbol = Market.SymbolId.make("SOLUSDT")
        const series = { exchangeId: exchange.id, symbol, timeframe: "1h" as const }
        const cache = yield* CandleCache.CandleCache
        yield* cache.upsertMany(series, candles.slice(0, 100))
        const charts: Array<number> = []
        const watching = yield* client.WatchChart({ exchange: exchange.name, symbol, timeframe: "1h", limit: 500 }).pipe(
          Stream.runForEach((chart) => Effect.sync(() => charts.push(chart.bars.length))),
          Effect.fork
        )
        yield* Effect.sleep("100 millis").pipe(Effect.repeat({ until: () => charts.length > 0 }), Effect.timeout("15 seconds"))
        assert.strictEqual(charts[0], 100)
        // A close of the series: the new bar is in the next chart, well before the 2 s refresh would bring it.
        const next = candles[100]!
        yield* cache.upsert(series, next)
        const bus = yield* Bus.Bus
        const sentAt = Date.now()
        yield* bus.publish(Keys.candleCloseChannel(series), Candle.Candle, next)
        yield* Effect.sleep("20 millis").pipe(Effect.repeat({ until: () => charts.at(-1) === 101 }), Effect.timeout("15 seconds"))
        assert.isBelow(Date.now() - sentAt, 1_000, "pushed by the close, not by the refresh 2 s after the first chart")
        yield* Fiber.interrupt(watching)
      })
    )
  )

  it.effect("WatchAlerts: an alert published on any exchange's channel arrives", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const client = yield* adminClient
        const exchange = yield* (yield* ExchangesRepo.ExchangesRepo).byName("sim_coinbase")
        const alert = alertAt(exchange, Market.SymbolId.make("ETH-USD"), start, "reversal_oversold")
        const received = yield* client.WatchAlerts().pipe(Stream.take(1), Stream.runCollect, Effect.timeout("15 seconds"), Effect.fork)
        // Publish until the subscription (made asynchronously on the server) has seen one.
        const bus = yield* Bus.Bus
        yield* bus.publish(Keys.alertsChannel(exchange.id), Alert.Alert, alert).pipe(
          Effect.zipRight(Effect.sleep("200 millis")),
          Effect.repeat({ until: () => received.unsafePoll() !== null }),
          Effect.timeout("15 seconds"),
          Effect.fork
        )
        const [first] = Chunk.toReadonlyArray(yield* Fiber.join(received))
        assert.strictEqual(first!.label, "reversal_oversold")
        assert.strictEqual(first!.exchangeName, "sim_coinbase")
      })
    )
  )
})
