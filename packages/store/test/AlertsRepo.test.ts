import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Alert, type Exchange, Market, type Timeframe } from "@livermore/domain"
import { DateTime, Effect, Option } from "effect"
import { AlertsRepo, ExchangesRepo } from "../src/index.js"
import { MigratedStore, shared } from "./utils.js"

const withStore = shared(MigratedStore)

const HOUR = 3_600_000
const T0 = Date.UTC(2026, 0, 5, 10)

const makeAlert = (
  exchange: Exchange.Exchange,
  overrides: {
    readonly symbol?: string
    readonly timeframe?: Timeframe.Timeframe
    readonly label?: string
    readonly candleOpenTime?: number
    readonly triggeredAt?: number
  } = {}
) =>
  new Alert.Alert({
    exchangeId: exchange.id,
    exchangeName: exchange.name,
    symbol: Market.SymbolId.make(overrides.symbol ?? "BTCUSDT"),
    timeframe: overrides.timeframe ?? "1h",
    label: Alert.AlertLabel.make(overrides.label ?? "level_-150"),
    value: -151.25,
    price: 42_000.5,
    candleOpenTime: overrides.candleOpenTime ?? T0,
    triggeredAt: DateTime.unsafeMake(overrides.triggeredAt ?? (overrides.candleOpenTime ?? T0) + HOUR),
    details: new Alert.AlertDetails({ valuesByTimeframe: { "1h": -151.25, "4h": -90 }, bias: "bearish" })
  })

const exchange = (name: string) => Effect.flatMap(ExchangesRepo.ExchangesRepo, (repo) => repo.byName(name))

describe("AlertsRepo", () => {
  it.live("insertOnce stores an alert once; a second delivery reports it as not new", () =>
    Effect.gen(function* () {
      const repo = yield* AlertsRepo.AlertsRepo
      const sql = yield* SqlClient.SqlClient
      const binance = yield* exchange("binance")
      const alert = makeAlert(binance, { symbol: "DEDUPUSDT" })

      const first = yield* repo.insertOnce(alert)
      const second = yield* repo.insertOnce(alert)
      assert.isTrue(first.isNew)
      assert.isFalse(second.isNew)
      assert.strictEqual(second.id, first.id)
      const rows = yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM alert_history WHERE symbol = 'DEDUPUSDT'`
      assert.strictEqual(rows[0]!.n, 1)

      const stored = yield* repo.byId(first.id)
      assert.deepStrictEqual(stored.alert, alert)
      assert.isFalse(stored.notificationSent)
      assert.deepStrictEqual(stored.notificationError, Option.none())
    }).pipe(withStore)
  )

  it.live("the same candle on another exchange, timeframe or label is a different alert", () =>
    Effect.gen(function* () {
      const repo = yield* AlertsRepo.AlertsRepo
      const binance = yield* exchange("binance")
      const binanceUs = yield* exchange("binance_us")
      const base = { symbol: "VARYUSDT" } as const
      const outcomes = yield* Effect.all([
        repo.insertOnce(makeAlert(binance, base)),
        repo.insertOnce(makeAlert(binanceUs, base)),
        repo.insertOnce(makeAlert(binance, { ...base, timeframe: "4h", candleOpenTime: T0 - 2 * HOUR })),
        repo.insertOnce(makeAlert(binance, { ...base, label: "level_-200" })),
        repo.insertOnce(makeAlert(binance, { ...base, candleOpenTime: T0 + HOUR }))
      ])
      assert.isTrue(outcomes.every((o) => o.isNew))
    }).pipe(withStore)
  )

  it.live("the database rejects an open time that is not aligned to the timeframe", () =>
    Effect.gen(function* () {
      const repo = yield* AlertsRepo.AlertsRepo
      const binance = yield* exchange("binance")
      const error = yield* Effect.flip(repo.insertOnce(makeAlert(binance, { symbol: "ODDUSDT", candleOpenTime: T0 + 60_000 })))
      assert.strictEqual(error._tag, "StoreError")
      assert.strictEqual(error.sqlState, "23514")
      assert.include(error.message, "alert_history_open_time_aligned")
    }).pipe(withStore)
  )

  it.live("list filters by exchange, symbol, timeframe and time, newest first, with a cursor", () =>
    Effect.gen(function* () {
      const repo = yield* AlertsRepo.AlertsRepo
      const coinbase = yield* exchange("coinbase")
      const binance = yield* exchange("binance")
      // Five hourly ETH-USD alerts on Coinbase, plus noise that the filters must exclude.
      for (let i = 0; i < 5; i++) {
        yield* repo.insertOnce(makeAlert(coinbase, { symbol: "ETH-USD", candleOpenTime: T0 + i * HOUR }))
      }
      yield* repo.insertOnce(makeAlert(coinbase, { symbol: "SOL-USD" }))
      yield* repo.insertOnce(makeAlert(coinbase, { symbol: "ETH-USD", timeframe: "5m", candleOpenTime: T0 }))
      yield* repo.insertOnce(makeAlert(binance, { symbol: "ETH-USD" }))

      const query = { exchangeId: coinbase.id, symbol: "ETH-USD", timeframe: "1h" } as const
      const page1 = yield* repo.list({ ...query, limit: 2 })
      const page2 = yield* repo.list({ ...query, limit: 2, cursor: Option.getOrThrow(page1.nextCursor) })
      const page3 = yield* repo.list({ ...query, limit: 2, cursor: Option.getOrThrow(page2.nextCursor) })
      const openTimes = [...page1.items, ...page2.items, ...page3.items].map((s) => s.alert.candleOpenTime)
      assert.deepStrictEqual(openTimes, [4, 3, 2, 1, 0].map((i) => T0 + i * HOUR))
      assert.isTrue(Option.isNone(page3.nextCursor))

      const recent = yield* repo.list({ ...query, since: DateTime.unsafeMake(T0 + 4 * HOUR) })
      assert.deepStrictEqual(
        recent.items.map((s) => s.alert.candleOpenTime),
        [T0 + 4 * HOUR, T0 + 3 * HOUR]
      )
      const all = yield* repo.list({ symbol: "ETH-USD" })
      assert.strictEqual(all.items.length, 7)
      assert.isTrue(Option.isNone(all.nextCursor))
    }).pipe(withStore)
  )

  it.live("a cursor list never returned fails with InvalidCursor", () =>
    Effect.gen(function* () {
      const repo = yield* AlertsRepo.AlertsRepo
      assert.strictEqual((yield* Effect.flip(repo.list({ cursor: "abc" })))._tag, "InvalidCursor")
      assert.strictEqual((yield* Effect.flip(repo.list({ cursor: "999999999" })))._tag, "InvalidCursor")
      const tooMany = yield* Effect.flip(repo.list({ limit: 5000 }))
      assert.strictEqual(tooMany._tag, "StoreError")
    }).pipe(withStore)
  )

  it.live("markNotified and markNotificationFailed record the delivery outcome", () =>
    Effect.gen(function* () {
      const repo = yield* AlertsRepo.AlertsRepo
      const binance = yield* exchange("binance")
      const { id } = yield* repo.insertOnce(makeAlert(binance, { symbol: "NOTIFYUSDT" }))

      yield* repo.markNotificationFailed(id, "discord: 503")
      const failed = yield* repo.byId(id)
      assert.isFalse(failed.notificationSent)
      assert.deepStrictEqual(failed.notificationError, Option.some("discord: 503"))

      yield* repo.markNotified(id)
      const sent = yield* repo.byId(id)
      assert.isTrue(sent.notificationSent)
      assert.deepStrictEqual(sent.notificationError, Option.none())

      assert.strictEqual((yield* Effect.flip(repo.markNotified(999_999_999)))._tag, "RecordNotFound")
    }).pipe(withStore)
  )

  it.live("pendingNotifications returns undelivered, unfailed alerts since an instant, oldest first", () =>
    Effect.gen(function* () {
      const repo = yield* AlertsRepo.AlertsRepo
      const coinbase = yield* exchange("coinbase")
      const symbol = "PENDING-USD"
      const base = Date.UTC(2031, 2, 1)
      // Six hourly alerts far from the other tests' times, inserted out of order.
      const ids: Array<number> = []
      for (const i of [3, 0, 5, 1, 4, 2]) {
        const { id } = yield* repo.insertOnce(makeAlert(coinbase, { symbol, candleOpenTime: base + i * HOUR }))
        ids[i] = id
      }
      yield* repo.markNotified(ids[1]!)
      yield* repo.markNotificationFailed(ids[3]!, "webhook: HTTP 400")

      // triggeredAt is the open time + 1 h: alert 0 triggered before `since`; 1 is delivered, 3 failed.
      const since = DateTime.unsafeMake(base + 2 * HOUR)
      const pending = yield* repo.pendingNotifications({ since, limit: 100 })
      assert.deepStrictEqual(
        pending.map((s) => s.alert.candleOpenTime),
        [2, 4, 5].map((i) => base + i * HOUR)
      )
      assert.isTrue(pending.every((s) => !s.notificationSent && Option.isNone(s.notificationError)))

      const firstTwo = yield* repo.pendingNotifications({ since, limit: 2 })
      assert.deepStrictEqual(
        firstTwo.map((s) => s.id),
        [ids[2], ids[4]]
      )
      // `since` is inclusive: alert 4 triggered exactly at it.
      const later = yield* repo.pendingNotifications({ since: DateTime.unsafeMake(base + 5 * HOUR), limit: 100 })
      assert.deepStrictEqual(
        later.map((s) => s.id),
        [ids[4], ids[5]]
      )
      assert.strictEqual((yield* Effect.flip(repo.pendingNotifications({ since, limit: 0 })))._tag, "StoreError")
    }).pipe(withStore)
  )
})
