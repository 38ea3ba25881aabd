/**
 * SymbolUniverse against a real Postgres (a fresh migrated database) and the exchange simulator over real sockets:
 * the Binance and Coinbase adapters pointed at `ExchangeSim`, with the `sim_binance` / `sim_coinbase` rows' ids.
 */
import { FetchHttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Exchange, Market } from "@livermore/domain"
import { ExchangeAdapter } from "@livermore/exchange"
import { BinanceAdapter } from "@livermore/exchange-binance"
import { CoinbaseAdapter } from "@livermore/exchange-coinbase"
import { ExchangeSim } from "@livermore/exchange-sim"
import { ExchangeSymbolsRepo, ExchangesRepo, LiquidityGrade, PositionsRepo, UsersRepo } from "@livermore/store"
import { BigDecimal, Context, Effect, Layer, Option, Schema } from "effect"
import * as SymbolUniverse from "../src/SymbolUniverse.js"
import { MigratedStore, shared } from "./storeDatabase.js"

const withStore = shared(MigratedStore)

/** 2024-01-11 00:02 UTC, paused, so 24 h volumes do not move between two requests. */
const START = Date.UTC(2024, 0, 11, 0, 2)

type Adapter = Context.Tag.Service<ExchangeAdapter.ExchangeAdapter>

/** A paused simulator and an adapter on it for the seeded row `name` (its id, the simulator's URLs). */
const simAdapter = (name: "sim_binance" | "sim_coinbase", symbols = 30) =>
  Effect.gen(function* () {
    const sim = yield* ExchangeSim.make({ startTime: START, speed: 0, symbols })
    const row = yield* Effect.flatMap(ExchangesRepo.ExchangesRepo, (repo) => repo.byName(name))
    const exchange = new Exchange.Exchange({ ...row, wsUrl: sim.wsUrl, restUrl: sim.url })
    const adapterLayer = name === "sim_binance" ? BinanceAdapter.layer(exchange) : CoinbaseAdapter.layer(exchange)
    const context = yield* Layer.build(adapterLayer.pipe(Layer.provide(FetchHttpClient.layer)))
    return Context.get(context, ExchangeAdapter.ExchangeAdapter)
  })

/** What the simulator's REST 24 h volumes rank: symbols by quote volume, most first (ties by symbol). */
const expectedRanking = (adapter: Adapter) =>
  Effect.map(adapter.volumes24h, (volumes) =>
    [...volumes]
      .sort((a, b) => b.quoteVolume - a.quoteVolume || (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0))
      .map((v) => ({ symbol: v.symbol, volume: v.volume, quoteVolume: v.quoteVolume }))
  )

const refresh = (adapter: Adapter, options: SymbolUniverse.Options) =>
  Effect.provideService(SymbolUniverse.refresh(options), ExchangeAdapter.ExchangeAdapter, adapter)

const storedTier = (exchangeId: number, tier?: 1 | 2) =>
  Effect.flatMap(ExchangeSymbolsRepo.ExchangeSymbolsRepo, (repo) => repo.listByExchange(exchangeId, tier))

let users = 0
const newUser = Effect.flatMap(UsersRepo.UsersRepo, (repo) =>
  repo.upsert({ identityProvider: "clerk", subject: `user_universe_${users++}_${Date.now()}` })
)

const hold = (userId: number, exchangeId: number, symbol: string, quantity: string) =>
  Effect.flatMap(PositionsRepo.PositionsRepo, (repo) =>
    repo.upsert({ userId, exchangeId, symbol, quantity: BigDecimal.unsafeFromString(quantity) })
  )

describe("SymbolUniverse.rank", () => {
  const sym = Schema.decodeSync(Market.SymbolId)
  const product = (symbol: string, baseAsset: string, quoteAsset: string) =>
    new Market.Product({ symbol: sym(symbol), baseAsset, quoteAsset })
  const volume = (symbol: string, base: number, quote: number): ExchangeAdapter.Volume24h => ({
    symbol: sym(symbol),
    volume: base,
    quoteVolume: quote
  })
  const products = [
    product("BTCUSDT", "BTC", "USDT"),
    product("ETHBTC", "ETH", "BTC"),
    product("USDTTRY", "USDT", "TRY"),
    product("SOLUSDC", "SOL", "USDC"),
    product("FOOXYZ", "FOO", "XYZ")
  ]
  const volumes = [
    volume("BTCUSDT", 1_000, 60_000_000), // BTC at 60 000 USDT
    volume("ETHBTC", 10_000, 500), // 500 BTC = 30 M USD
    volume("USDTTRY", 2_000_000, 64_000_000), // 64 M TRY = 2 M USD
    volume("SOLUSDC", 100_000, 15_000_000),
    volume("FOOXYZ", 1, 1e12), // XYZ has no USD price here
    volume("GONEUSDT", 1, 1e12) // not a tradable product
  ]

  it("converts quote volumes to USD through the exchange's own pairs before ranking", () => {
    const { ranked, unpriced } = SymbolUniverse.rank(products, volumes)
    assert.deepStrictEqual(
      ranked.map((r) => [r.symbol, Math.round(r.quoteVolumeUsd)]),
      [
        ["BTCUSDT", 60_000_000],
        ["ETHBTC", 30_000_000],
        ["SOLUSDC", 15_000_000],
        ["USDTTRY", 2_000_000]
      ]
    )
    assert.deepStrictEqual(unpriced, [sym("FOOXYZ")])
  })

  it("ranks only the configured quote assets", () => {
    const { ranked } = SymbolUniverse.rank(products, volumes, ["USDT", "USDC"])
    assert.deepStrictEqual(
      ranked.map((r) => r.symbol),
      ["BTCUSDT", "SOLUSDC"]
    )
  })
})

describe("SymbolUniverse.refresh against the simulator", () => {
  it.live("Tier 1 is the top N by quote volume of the sim's REST volumes, stored with ranks and grades", () =>
    Effect.gen(function* () {
      const adapter = yield* simAdapter("sim_binance")
      const expected = yield* expectedRanking(adapter)
      const universe = yield* refresh(adapter, { topN: 10, userId: null })
      const top = expected.slice(0, 10)
      assert.deepStrictEqual(
        universe.tier1,
        top.map((v) => v.symbol)
      )
      assert.deepStrictEqual(universe.tier2, [])
      assert.deepStrictEqual(universe.all, universe.tier1)

      const stored = yield* storedTier(adapter.exchange.id)
      assert.deepStrictEqual(
        stored.map((s) => [s.symbol, s.tier, Option.getOrNull(s.rank), s.quoteAsset, s.quoteVolume24h, s.volume24h]),
        top.map((v, i) => [v.symbol, 1, i + 1, "USDT", v.quoteVolume, v.volume])
      )
      for (const s of stored) {
        assert.strictEqual(s.liquidityGrade, LiquidityGrade.fromQuoteVolumeUsd(s.quoteVolume24h))
        assert.strictEqual(`${s.baseAsset}${s.quoteAsset}`, s.symbol)
      }
    }).pipe(Effect.scoped, withStore),
    60_000
  )

  it.live("the user's positions outside Tier 1 are Tier 2; a symbol in both is Tier 1 only", () =>
    Effect.gen(function* () {
      const adapter = yield* simAdapter("sim_binance")
      const exchangeId = adapter.exchange.id
      const ranking = (yield* expectedRanking(adapter)).map((v) => v.symbol)
      const user = yield* newUser
      const coinbase = yield* Effect.flatMap(ExchangesRepo.ExchangesRepo, (repo) => repo.byName("sim_coinbase"))
      yield* hold(user.id, exchangeId, ranking[19]!, "3")
      yield* hold(user.id, exchangeId, ranking[1]!, "0.5") // also in Tier 1
      yield* hold(user.id, exchangeId, ranking[14]!, "12.25")
      yield* hold(user.id, exchangeId, ranking[24]!, "0") // sold out
      yield* hold(user.id, exchangeId, "DELISTEDUSDT", "7") // not listed by the exchange
      yield* hold(user.id, coinbase.id, "BTC-USD", "1") // another exchange
      const other = yield* newUser
      yield* hold(other.id, exchangeId, ranking[22]!, "1") // another user

      const universe = yield* refresh(adapter, { topN: 10, userId: user.id })
      assert.deepStrictEqual(universe.tier1, ranking.slice(0, 10))
      assert.deepStrictEqual(universe.tier2, [ranking[14]!, ranking[19]!], "ordered by volume")
      assert.deepStrictEqual(universe.all, [...ranking.slice(0, 10), ranking[14]!, ranking[19]!])
      assert.strictEqual(new Set(universe.all).size, universe.all.length)
      assert.strictEqual(universe.all.filter((s) => s === ranking[1]).length, 1)
      assert.deepStrictEqual(
        (yield* storedTier(exchangeId, 1)).map((s) => s.symbol),
        ranking.slice(0, 10)
      )

      const noPositions = yield* refresh(adapter, { topN: 10, userId: other.id })
      assert.deepStrictEqual(noPositions.tier2, [ranking[22]!])
    }).pipe(Effect.scoped, withStore),
    60_000
  )

  it.live("the user's settings: the watchlist joins Tier 2 (deduplicated, unlisted skipped) and top N overrides; broken settings are a typed error", () =>
    Effect.gen(function* () {
      const adapter = yield* simAdapter("sim_binance")
      const exchangeId = adapter.exchange.id
      const ranking = (yield* expectedRanking(adapter)).map((v) => v.symbol)
      const usersRepo = yield* UsersRepo.UsersRepo
      const user = yield* newUser
      yield* hold(user.id, exchangeId, ranking[14]!, "1")
      yield* usersRepo.setSettings(user.id, {
        watchlist: {
          sim_binance: [ranking[20]!, ranking[14]!, ranking[2]!, "DELISTEDUSDT"],
          sim_coinbase: ["BTC-USD"]
        },
        topN: { sim_binance: 6, sim_coinbase: 2 }
      })

      const universe = yield* refresh(adapter, { topN: 10, userId: user.id })
      assert.deepStrictEqual(universe.tier1, ranking.slice(0, 6), "the settings' top N, not the instance's")
      assert.deepStrictEqual(universe.tier2, [ranking[14]!, ranking[20]!], "held or watched, once each, by volume")
      assert.strictEqual((yield* storedTier(exchangeId, 1)).length, 6)

      yield* usersRepo.setSettings(user.id, { watchlist: { sim_binance: ["not a symbol!"] }, topN: { sim_binance: 0 } })
      const broken = yield* Effect.flip(refresh(adapter, { topN: 10, userId: user.id }))
      assert.strictEqual(broken._tag, "SettingsInvalid")
      assert.include(broken.message, "watchlist.sim_binance[0]")
      assert.include(broken.message, "topN.sim_binance: top N is a whole number from 1 to 500")
      assert.strictEqual((yield* storedTier(exchangeId, 1)).length, 6, "the pool is left as it was")
    }).pipe(Effect.scoped, withStore),
    60_000
  )

  it.live("a second refresh with a smaller N removes the dropped Tier 1 rows and leaves Tier 2 rows alone", () =>
    Effect.gen(function* () {
      const adapter = yield* simAdapter("sim_binance")
      const exchangeId = adapter.exchange.id
      const ranking = (yield* expectedRanking(adapter)).map((v) => v.symbol)
      const repo = yield* ExchangeSymbolsRepo.ExchangeSymbolsRepo
      yield* repo.upsertMany(exchangeId, [
        {
          symbol: "OTHERUSDT",
          baseAsset: "OTHER",
          quoteAsset: "USDT",
          tier: 2,
          volume24h: 1,
          quoteVolume24h: 1,
          liquidityGrade: "E"
        }
      ])

      yield* refresh(adapter, { topN: 10, userId: null })
      assert.strictEqual((yield* storedTier(exchangeId, 1)).length, 10)
      const smaller = yield* refresh(adapter, { topN: 4, userId: null })
      assert.deepStrictEqual(smaller.tier1, ranking.slice(0, 4))
      const stored = yield* storedTier(exchangeId)
      assert.deepStrictEqual(
        stored.map((s) => [s.symbol, s.tier, Option.getOrNull(s.rank)]),
        [...ranking.slice(0, 4).map((s, i) => [s, 1, i + 1]), ["OTHERUSDT", 2, null]]
      )

      const all = yield* refresh(adapter, { topN: 1_000, userId: null })
      assert.deepStrictEqual(all.tier1, ranking, "a top N above the listing takes every product")
    }).pipe(Effect.scoped, withStore),
    60_000
  )

  it.live("typed errors: top N not a positive integer, unknown user, nothing to rank; the pool is left as it was", () =>
    Effect.gen(function* () {
      const adapter = yield* simAdapter("sim_binance", 8)
      const exchangeId = adapter.exchange.id
      yield* refresh(adapter, { topN: 3, userId: null })
      const before = (yield* storedTier(exchangeId, 1)).map((s) => s.symbol)
      assert.strictEqual(before.length, 3)

      for (const topN of [0, -2, 2.5, Number.NaN]) {
        const error = yield* Effect.flip(refresh(adapter, { topN, userId: null }))
        assert.strictEqual(error._tag, "InvalidTopN")
        assert.include(error.message, "must be a positive integer")
      }
      const unknownUser = yield* Effect.flip(refresh(adapter, { topN: 3, userId: 987_654 }))
      assert.strictEqual(unknownUser._tag, "RecordNotFound")
      assert.include(unknownUser.message, "No user with id 987654")
      const nothing = yield* Effect.flip(refresh(adapter, { topN: 3, userId: null, quoteAssets: ["USTD"] }))
      assert.strictEqual(nothing._tag, "NoSymbolsRanked")
      assert.include(nothing.message, "quote assets USTD")

      assert.deepStrictEqual(
        (yield* storedTier(exchangeId, 1)).map((s) => s.symbol),
        before
      )
    }).pipe(Effect.scoped, withStore),
    60_000
  )

  it.live("the Coinbase protocol: Tier 1 from the products' 24 h quote volumes", () =>
    Effect.gen(function* () {
      const adapter = yield* simAdapter("sim_coinbase", 12)
      const expected = (yield* expectedRanking(adapter)).map((v) => v.symbol)
      const universe = yield* refresh(adapter, { topN: 5, userId: null, quoteAssets: ["USD"] })
      assert.deepStrictEqual(universe.tier1, expected.slice(0, 5))
      const stored = yield* storedTier(adapter.exchange.id, 1)
      assert.deepStrictEqual(
        stored.map((s) => [s.symbol, s.quoteAsset]),
        expected.slice(0, 5).map((s) => [s, "USD"])
      )
    }).pipe(Effect.scoped, withStore),
    60_000
  )
})
