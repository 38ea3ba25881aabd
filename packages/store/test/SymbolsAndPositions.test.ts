import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { BigDecimal, Effect, Option } from "effect"
import { ExchangeSymbolsRepo, ExchangesRepo, LiquidityGrade, PositionsRepo, UsersRepo } from "../src/index.js"
import { MigratedStore, shared } from "./utils.js"

const withStore = shared(MigratedStore)

const exchangeId = (name: string) =>
  Effect.flatMap(ExchangesRepo.ExchangesRepo, (repo) => repo.byName(name)).pipe(Effect.map((e) => e.id))

const symbol = (name: string, rank: number | undefined, quoteVolume: number, tier: 1 | 2 = 1) => ({
  symbol: name,
  baseAsset: name.replace(/USDT$/, ""),
  quoteAsset: "USDT",
  tier,
  rank,
  volume24h: quoteVolume / 100,
  quoteVolume24h: quoteVolume,
  liquidityGrade: LiquidityGrade.fromQuoteVolumeUsd(quoteVolume)
})

describe("LiquidityGrade", () => {
  it("grades 24 h quote volume in USD", () => {
    assert.deepStrictEqual(
      [2e9, 1e8, 5e7, 1e7, 1e6, 1e5, 99_999, 0].map(LiquidityGrade.fromQuoteVolumeUsd),
      ["A", "A", "B", "B", "C", "D", "E", "E"]
    )
  })
})

describe("ExchangeSymbolsRepo", () => {
  it.live("upsertMany inserts, then updates by (exchange, symbol); list orders by tier and rank", () =>
    Effect.gen(function* () {
      const repo = yield* ExchangeSymbolsRepo.ExchangeSymbolsRepo
      const binance = yield* exchangeId("binance")
      assert.strictEqual(
        yield* repo.upsertMany(binance, [
          symbol("ETHUSDT", 2, 9e8),
          symbol("BTCUSDT", 1, 2e9),
          symbol("PEPEUSDT", undefined, 5e4, 2)
        ]),
        3
      )
      yield* repo.upsertMany(binance, [symbol("ETHUSDT", 3, 8e6)])

      const all = yield* repo.listByExchange(binance)
      assert.deepStrictEqual(
        all.map((s) => [s.symbol, s.tier, Option.getOrNull(s.rank), s.liquidityGrade]),
        [
          ["BTCUSDT", 1, 1, "A"],
          ["ETHUSDT", 1, 3, "C"],
          ["PEPEUSDT", 2, null, "E"]
        ]
      )
      assert.deepStrictEqual(
        (yield* repo.listByExchange(binance, 2)).map((s) => s.symbol),
        ["PEPEUSDT"]
      )
      assert.deepStrictEqual(yield* repo.listByExchange(yield* exchangeId("binance_us")), [])
    }).pipe(withStore)
  )

  it.live("upsertMany handles more rows than one statement may carry", () =>
    Effect.gen(function* () {
      const repo = yield* ExchangeSymbolsRepo.ExchangeSymbolsRepo
      const sim = yield* exchangeId("sim_binance")
      const many = Array.from({ length: 2500 }, (_, i) => symbol(`S${i}USDT`, i + 1, 1e6))
      assert.strictEqual(yield* repo.upsertMany(sim, many), 2500)
      assert.strictEqual((yield* repo.listByExchange(sim, 1)).length, 2500)
    }).pipe(withStore)
  )

  it.live("replaceTier drops the tier's symbols that fell out, leaving the other tier alone", () =>
    Effect.gen(function* () {
      const repo = yield* ExchangeSymbolsRepo.ExchangeSymbolsRepo
      const coinbase = yield* exchangeId("coinbase")
      yield* repo.upsertMany(coinbase, [
        symbol("AUSDT", 1, 1e8),
        symbol("BUSDT", 2, 1e7),
        symbol("HELDUSDT", undefined, 1e3, 2)
      ])
      const result = yield* repo.replaceTier(coinbase, 1, [symbol("BUSDT", 1, 2e8), symbol("CUSDT", 2, 1e8)])
      assert.deepStrictEqual(result, { upserted: 2, deleted: 1 })
      assert.deepStrictEqual(
        (yield* repo.listByExchange(coinbase)).map((s) => [s.symbol, s.tier]),
        [
          ["BUSDT", 1],
          ["CUSDT", 1],
          ["HELDUSDT", 2]
        ]
      )
    }).pipe(withStore)
  )

  it.live("a malformed symbol is rejected before the statement runs", () =>
    Effect.gen(function* () {
      const repo = yield* ExchangeSymbolsRepo.ExchangeSymbolsRepo
      const error = yield* Effect.flip(repo.upsertMany(yield* exchangeId("binance"), [symbol("BTC USDT", 1, 1)]))
      assert.strictEqual(error._tag, "StoreError")
    }).pipe(withStore)
  )
})

describe("PositionsRepo", () => {
  it.live("upsert replaces a holding; decimals round-trip exactly; list and remove", () =>
    Effect.gen(function* () {
      const repo = yield* PositionsRepo.PositionsRepo
      const sql = yield* SqlClient.SqlClient
      const user = yield* (yield* UsersRepo.UsersRepo).upsert({ identityProvider: "clerk", subject: "holder" })
      const coinbase = yield* exchangeId("coinbase")
      const binance = yield* exchangeId("binance")

      const first = yield* repo.upsert({
        userId: user.id,
        exchangeId: coinbase,
        symbol: "BTC-USD",
        quantity: BigDecimal.unsafeFromString("0.123456789012345678"),
        averagePrice: BigDecimal.unsafeFromString("43000.12")
      })
      assert.isTrue(BigDecimal.equals(first.quantity, BigDecimal.unsafeFromString("0.123456789012345678")))
      const stored = yield* sql<{ readonly quantity: string }>`
        SELECT quantity::text AS quantity FROM positions WHERE user_id = ${user.id} AND symbol = 'BTC-USD'`
      assert.strictEqual(stored[0]!.quantity, "0.123456789012345678")
      const updated = yield* repo.upsert({
        userId: user.id,
        exchangeId: coinbase,
        symbol: "BTC-USD",
        quantity: BigDecimal.unsafeFromString("1.5")
      })
      assert.isTrue(BigDecimal.equals(updated.quantity, BigDecimal.unsafeFromString("1.5")))
      assert.isTrue(Option.isNone(updated.averagePrice))
      yield* repo.upsert({ userId: user.id, exchangeId: binance, symbol: "ETHUSDT", quantity: BigDecimal.fromBigInt(3n) })

      assert.deepStrictEqual(
        (yield* repo.listByUser(user.id)).map((p) => [p.exchangeId, p.symbol]),
        // Ordered by exchange id: coinbase is seeded first.
        [
          [coinbase, "BTC-USD"],
          [binance, "ETHUSDT"]
        ]
      )
      assert.deepStrictEqual(
        (yield* repo.listByUser(user.id, binance)).map((p) => p.symbol),
        ["ETHUSDT"]
      )
      assert.isTrue(yield* repo.remove(user.id, binance, "ETHUSDT"))
      assert.isFalse(yield* repo.remove(user.id, binance, "ETHUSDT"))
      assert.strictEqual((yield* repo.listByUser(user.id)).length, 1)

      const negative = yield* Effect.flip(
        repo.upsert({ userId: user.id, exchangeId: coinbase, symbol: "X-USD", quantity: BigDecimal.fromNumber(-1) })
      )
      assert.strictEqual(negative._tag, "StoreError")
    }).pipe(withStore)
  )
})
