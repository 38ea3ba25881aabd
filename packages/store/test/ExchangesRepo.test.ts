import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { ExchangesRepo } from "../src/index.js"
import { MigratedStore, shared } from "./utils.js"

const withStore = shared(MigratedStore)

describe("ExchangesRepo", () => {
  it.live("seeds all eight exchanges with their URLs", () =>
    Effect.gen(function* () {
      const repo = yield* ExchangesRepo.ExchangesRepo
      const catalog = yield* repo.catalog
      const byName = new Map(catalog.map((e) => [e.name as string, e]))
      assert.deepStrictEqual(
        catalog.map((e) => e.name),
        ["coinbase", "binance", "binance_us", "kraken", "kucoin", "mexc", "sim_binance", "sim_coinbase"]
      )
      const urls = (name: string) => {
        const e = byName.get(name)!
        return [e.wsUrl, e.restUrl]
      }
      assert.deepStrictEqual(urls("coinbase"), ["wss://advanced-trade-ws.coinbase.com", "https://api.coinbase.com"])
      assert.deepStrictEqual(urls("binance"), ["wss://stream.binance.com:9443", "https://api.binance.com"])
      assert.deepStrictEqual(urls("binance_us"), ["wss://stream.binance.us:9443", "https://api.binance.us"])
      assert.deepStrictEqual(urls("kraken"), ["wss://ws.kraken.com/v2", "https://api.kraken.com"])
      assert.deepStrictEqual(urls("kucoin"), ["wss://ws-api-spot.kucoin.com", "https://api.kucoin.com"])
      assert.deepStrictEqual(urls("mexc"), ["wss://wbs-api.mexc.com/ws", "https://api.mexc.com"])
      assert.deepStrictEqual(urls("sim_binance"), ["ws://127.0.0.1:7070", "http://127.0.0.1:7070"])
      assert.deepStrictEqual(urls("sim_coinbase"), ["ws://127.0.0.1:7070", "http://127.0.0.1:7070"])
    }).pipe(withStore)
  )

  it.live("lists only exchanges an adapter serves, as domain Exchanges", () =>
    Effect.gen(function* () {
      const repo = yield* ExchangesRepo.ExchangesRepo
      const list = yield* repo.list
      assert.deepStrictEqual(
        list.map((e) => [e.name, e.adapter]),
        [
          ["coinbase", "coinbase"],
          ["binance", "binance"],
          ["binance_us", "binance"],
          ["sim_binance", "binance"],
          ["sim_coinbase", "coinbase"]
        ]
      )
    }).pipe(withStore)
  )

  it.live("maps limits and fees onto the domain schemas", () =>
    Effect.gen(function* () {
      const repo = yield* ExchangesRepo.ExchangesRepo
      const binance = yield* repo.byName("binance")
      assert.strictEqual(binance.apiLimits.restWeightPerMinute, 6000)
      assert.strictEqual(binance.apiLimits.candlesPerRequest, 1000)
      assert.strictEqual(binance.apiLimits.wsMessagesPerSecond, 5)
      assert.strictEqual(binance.apiLimits.wsMaxStreamsPerConnection, 1024)
      assert.deepStrictEqual(binance.apiLimits.wsMaxConnectionHours, Option.some(24))
      assert.deepStrictEqual([binance.fees.maker, binance.fees.taker], [0.001, 0.001])
      assert.deepStrictEqual(binance.timeframes, ["5m", "15m", "1h", "4h", "1d"])
      assert.include(binance.geoRestrictions, "US")

      const coinbase = yield* repo.byName("coinbase")
      assert.strictEqual(coinbase.apiLimits.candlesPerRequest, 350)
      assert.deepStrictEqual(coinbase.apiLimits.wsMaxConnectionHours, Option.none())

      const binanceUs = yield* repo.byName("binance_us")
      assert.strictEqual(binanceUs.adapter, "binance")
      assert.strictEqual(binanceUs.apiLimits.restWeightPerMinute, 1200)
      assert.include(binanceUs.geoRestrictions, "US-NY")

      assert.deepStrictEqual(yield* repo.byId(binance.id), binance)
    }).pipe(withStore)
  )

  it.live("an unknown name fails with UnknownExchange, never a fallback", () =>
    Effect.gen(function* () {
      const repo = yield* ExchangesRepo.ExchangesRepo
      const error = yield* Effect.flip(repo.byName("nasdaq"))
      assert.strictEqual(error._tag, "UnknownExchange")
      assert.strictEqual(error.message, 'No exchange named "nasdaq"')
      assert.strictEqual((yield* Effect.flip(repo.byId(9999)))._tag, "UnknownExchange")
    }).pipe(withStore)
  )

  it.live("a listed venue without an adapter fails with ExchangeNotSupported", () =>
    Effect.gen(function* () {
      const repo = yield* ExchangesRepo.ExchangesRepo
      const error = yield* Effect.flip(repo.byName("kraken"))
      assert.strictEqual(error._tag, "ExchangeNotSupported")
      assert.match(error.message, /kraken.*no adapter/)
    }).pipe(withStore)
  )

  it.live("the database refuses to activate a venue without an adapter", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const error = yield* Effect.flip(sql`UPDATE exchanges SET is_active = true WHERE name = 'mexc'`)
      assert.match(String(error.cause), /exchanges_active_needs_adapter/)
    }).pipe(withStore)
  )
})
