/**
 * The Symbols and Settings procedures against real storage and the exchange simulator over real sockets: symbols
 * checked against the listing the simulator's REST API serves, the watchlist kept in the admin's settings, and the
 * settings document validated before it is stored.
 */
import { assert, layer } from "@effect/vitest"
import { CandleCache } from "@livermore/cache"
import { Candle, Exchange, Market, UserSettings } from "@livermore/domain"
import { ExchangeSim } from "@livermore/exchange-sim"
import { AdminTokensRepo, ExchangeSymbolsRepo, ExchangesRepo, LiquidityGrade, UsersRepo } from "@livermore/store"
import { Effect, Layer, Redacted, Schema } from "effect"
import * as S from "./support.js"

/** The simulator of this file, started with the server; the sim rows point at it, `sim_coinbase` at nothing. */
let sim: ExchangeSim.SimHandle | undefined
const startSim = Layer.scopedDiscard(
  Effect.map(ExchangeSim.make({ symbols: 12, speed: 0, startTime: Date.UTC(2024, 0, 11, 0, 2) }), (started) => {
    sim = started
  })
)
const patch = (row: Exchange.Exchange): Exchange.Exchange => {
  if (row.name === "sim_coinbase") {
    // Nothing listens here: the listing of sim_coinbase cannot be read.
    return new Exchange.Exchange({ ...row, restUrl: "http://127.0.0.1:9/api/v3/brokerage", wsUrl: "ws://127.0.0.1:9/" })
  }
  if (row.name !== "sim_binance" || sim === undefined) return row
  return new Exchange.Exchange({ ...row, restUrl: sim.url, wsUrl: sim.wsUrl })
}

const admin = Effect.gen(function* () {
  const user = yield* (yield* UsersRepo.UsersRepo).upsert({
    identityProvider: "local",
    subject: `admin-${crypto.randomUUID()}`,
    role: "admin"
  })
  const { secret } = yield* (yield* AdminTokensRepo.AdminTokensRepo).create({ userId: user.id, name: "test" })
  return { user, client: yield* S.client({ token: Redacted.value(secret) }) }
})

const simSymbols = () => sim!.market.symbols.map((s) => s.binance)
const sym = Schema.decodeSync(Market.SymbolId)
const binance = Schema.decodeSync(Exchange.ExchangeName)("sim_binance")

/** Make `symbols` the stored top N pool of sim_binance. */
const pool = (symbols: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const row = yield* (yield* ExchangesRepo.ExchangesRepo).byName("sim_binance")
    yield* (yield* ExchangeSymbolsRepo.ExchangeSymbolsRepo).replaceTier(
      row.id,
      1,
      symbols.map((symbol, i) => ({
        symbol,
        baseAsset: symbol.replace(/USDT$/, ""),
        quoteAsset: "USDT",
        tier: 1 as const,
        rank: i + 1,
        volume24h: 1,
        quoteVolume24h: 1,
        liquidityGrade: "E" as const
      }))
    )
    return row
  })

layer(Layer.merge(S.serverLayer(S.settings(), { adapterFor: S.adapterFor(patch) }), startSim), {
  excludeTestServices: true,
  timeout: "60 seconds"
})("admin RPC: symbols and settings", (it) => {
  it.effect("CheckSymbols: the exchange's spelling of what was typed, its status and metrics, in input order", () =>
    Effect.gen(function* () {
      const { client } = yield* admin
      const [first, second, third] = simSymbols()
      const row = yield* pool([first!])
      const candles = yield* CandleCache.CandleCache
      const openTime = Date.UTC(2024, 0, 10, 0, 0)
      yield* candles.upsertMany({ exchangeId: row.id, symbol: sym(second!), timeframe: "1h" }, [
        new Candle.Candle({ openTime, open: 1, high: 2, low: 1, close: 2, volume: 3, closed: true, synthetic: false }),
        new Candle.Candle({ openTime: openTime + 3_600_000, open: 2, high: 2, low: 1, close: 1, volume: 3, closed: true, synthetic: false })
      ])
      const loose = `${second!.replace(/USDT$/, "").toLowerCase()}/usdt`
      const checks = yield* client.CheckSymbols({ exchange: binance, symbols: [loose, first!, "NOPEUSDT", second!, ` ${third!} `] })
      assert.deepStrictEqual(
        checks.map((c) => [c.input, c.symbol, c.status]),
        [
          [loose, second!, "new"],
          [first!, first!, "top"],
          ["NOPEUSDT", null, "unknown"],
          [second!, second!, "repeated"],
          [` ${third!} `, third!, "new"]
        ]
      )
      const previewed = checks[0]!
      assert.strictEqual(previewed.quoteAsset, "USDT")
      assert.isAbove(previewed.quoteVolume24h!, 0)
      assert.strictEqual(previewed.liquidityGrade, LiquidityGrade.fromQuoteVolumeUsd(previewed.quoteVolumeUsd!))
      assert.deepStrictEqual(previewed.candlesCached, { "5m": 0, "15m": 0, "1h": 2, "4h": 0, "1d": 0 })
      assert.isNull(checks[2]!.liquidityGrade)
    }).pipe(Effect.scoped)
  )

  it.effect("SetWatchlist: unknown symbols are refused and nothing changes; a listed list is saved in the settings", () =>
    Effect.gen(function* () {
      const { user, client } = yield* admin
      const [first, , , fourth, fifth] = simSymbols()
      yield* pool([first!])
      const refused = yield* Effect.flip(client.SetWatchlist({ exchange: binance, symbols: [sym(fourth!), sym("NOPEUSDT")] }))
      assert.strictEqual(refused._tag, "SymbolsRejected")
      if (refused._tag === "SymbolsRejected") assert.deepStrictEqual(refused.unknown, ["NOPEUSDT"])
      assert.deepStrictEqual((yield* (yield* UsersRepo.UsersRepo).byId(user.id)).settings, {})

      const view = yield* client.SetWatchlist({ exchange: binance, symbols: [sym(fourth!), sym(fifth!)] })
      assert.deepStrictEqual(
        view.watchlist.map((c): ReadonlyArray<string | null> => [c.symbol, c.status]),
        [
          [fourth!, "watched"],
          [fifth!, "watched"]
        ]
      )
      assert.deepStrictEqual(
        view.top.map((t) => t.symbol),
        [first!]
      )
      assert.isNull(view.listingError)
      assert.isNull(view.followedBy, "no instance serves sim_binance here")
      const stored = (yield* (yield* UsersRepo.UsersRepo).byId(user.id)).settings
      assert.deepStrictEqual(stored.watchlist, { sim_binance: [fourth!, fifth!] })

      const again = yield* client.CheckSymbols({ exchange: binance, symbols: [fourth!] })
      assert.strictEqual(again[0]!.status, "watched")
      const emptied = yield* client.SetWatchlist({ exchange: binance, symbols: [] })
      assert.deepStrictEqual(emptied.watchlist, [])
    }).pipe(Effect.scoped)
  )

  it.effect("an exchange whose listing cannot be read: CheckSymbols fails ListingUnavailable, Watchlist says why", () =>
    Effect.gen(function* () {
      const { client } = yield* admin
      const coinbase = Schema.decodeSync(Exchange.ExchangeName)("sim_coinbase")
      const failed = yield* Effect.flip(client.CheckSymbols({ exchange: coinbase, symbols: ["BTC-USD"] }))
      assert.strictEqual(failed._tag, "ListingUnavailable")
      assert.include(failed.message, "sim_coinbase")
      const view = yield* client.Watchlist({ exchange: coinbase })
      assert.isNotNull(view.listingError)
      const unknown = yield* Effect.flip(client.Watchlist({ exchange: Schema.decodeSync(Exchange.ExchangeName)("nowhere") }))
      assert.strictEqual(unknown._tag, "AdminNotFound")
    }).pipe(Effect.scoped)
  )

  it.effect("Settings: every problem of a bad document listed and nothing saved; a good one saved with its defaults", () =>
    Effect.gen(function* () {
      const { user, client } = yield* admin
      const before = yield* client.GetSettings()
      assert.deepStrictEqual(before.document, UserSettings.encode(UserSettings.empty))
      assert.deepStrictEqual(before.issues, [])

      const bad = yield* Effect.flip(
        client.SaveSettings({ document: { topN: { sim_binance: 0 }, chart: { timeframe: "2h" }, colour: "blue" } })
      )
      assert.strictEqual(bad._tag, "SettingsInvalid")
      if (bad._tag === "SettingsInvalid") {
        assert.deepStrictEqual(
          bad.issues.map((i) => i.path),
          ["colour", "topN.sim_binance", "chart.timeframe"]
        )
        assert.include(bad.message, "top N is a whole number from 1 to 500")
      }
      assert.deepStrictEqual((yield* (yield* UsersRepo.UsersRepo).byId(user.id)).settings, {})

      const saved = yield* client.SaveSettings({ document: { topN: { sim_binance: 20 } } })
      assert.deepStrictEqual(saved.document, { watchlist: {}, topN: { sim_binance: 20 }, chart: { timeframe: "1h", bars: 300 } })
      assert.deepStrictEqual((yield* client.GetSettings()).document, saved.document)

      // Edited outside the UI into something invalid: shown as stored, with its problems; the watchlist refuses it.
      yield* (yield* UsersRepo.UsersRepo).setSettings(user.id, { topN: { sim_binance: "many" } })
      const broken = yield* client.GetSettings()
      assert.deepStrictEqual(broken.document, { topN: { sim_binance: "many" } })
      assert.deepStrictEqual(
        broken.issues.map((i) => i.path),
        ["topN.sim_binance"]
      )
      const refused = yield* Effect.flip(client.SetWatchlist({ exchange: binance, symbols: [] }))
      assert.strictEqual(refused._tag, "SettingsInvalid")
    }).pipe(Effect.scoped)
  )
})
