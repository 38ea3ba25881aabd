import { FileSystem, Path } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { Alert, Market } from "@livermore/domain"
import { DateTime, Effect, Layer } from "effect"
import { AlertsRepo, ExchangesRepo, Migrations, Repositories, StoreClient } from "../src/index.js"
import { shared } from "./utils.js"

const sqlDir = Migrations.repoSqlDirectory()

// PGlite boots in about 5 s, so the whole file shares one in-memory instance.
const EmbeddedStore = Repositories.layer.pipe(
  Layer.provideMerge(
    Migrations.layer({ directory: sqlDir }).pipe(Layer.provideMerge(StoreClient.layerEmbedded({ dataDir: "memory://" })))
  ),
  Layer.provideMerge(NodeContext.layer)
)

const withStore = shared(EmbeddedStore, "120 seconds")
const TIMEOUT = 120_000

describe("StoreClient.layerEmbedded (in-memory PGlite)", () => {
  it.live(
    "migrations apply, and a second run applies nothing",
    () =>
      Effect.gen(function* () {
        const info = yield* StoreClient.StorageInfo
        assert.deepStrictEqual(info, { backend: "embedded-pglite", where: "memory" })
        const report = yield* Migrations.run({ directory: sqlDir })
        assert.deepStrictEqual(report.applied, [])
        assert.strictEqual(report.skipped.length, 9)
        const sql = yield* SqlClient.SqlClient
        const rows = yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM schema_migrations`
        assert.strictEqual(rows[0]!.n, 9)
      }).pipe(withStore),
    TIMEOUT
  )

  it.live(
    "repositories work through the single socket connection",
    () =>
      Effect.gen(function* () {
        const exchanges = yield* ExchangesRepo.ExchangesRepo
        assert.strictEqual((yield* exchanges.catalog).length, 8)
        const binanceUs = yield* exchanges.byName("binance_us")
        assert.strictEqual(binanceUs.adapter, "binance")
        assert.strictEqual((yield* Effect.flip(exchanges.byName("nope")))._tag, "UnknownExchange")

        const alerts = yield* AlertsRepo.AlertsRepo
        const openTime = Date.UTC(2026, 0, 5)
        const alert = new Alert.Alert({
          exchangeId: binanceUs.id,
          exchangeName: binanceUs.name,
          symbol: Market.SymbolId.make("BTCUSD"),
          timeframe: "1d",
          label: Alert.AlertLabel.make("reversal_oversold"),
          value: -180,
          price: 40_000,
          candleOpenTime: openTime,
          triggeredAt: DateTime.unsafeMake(openTime + 86_400_000),
          details: new Alert.AlertDetails({ valuesByTimeframe: { "1d": -180 }, bias: "bearish" })
        })
        // Concurrent calls queue on the one connection instead of reading each other's rows.
        const outcomes = yield* Effect.all([alerts.insertOnce(alert), alerts.insertOnce(alert), alerts.insertOnce(alert)], {
          concurrency: "unbounded"
        })
        assert.strictEqual(outcomes.filter((o) => o.isNew).length, 1)
        assert.strictEqual(new Set(outcomes.map((o) => o.id)).size, 1)
        const page = yield* alerts.list({ exchangeId: binanceUs.id })
        assert.strictEqual(page.items.length, 1)
        assert.deepStrictEqual(page.items[0]!.alert, alert)
      }).pipe(withStore),
    TIMEOUT
  )

  it.scopedLive(
    "an on-disk data directory is created (parents included) and survives a restart",
    () =>
      Effect.gen(function* () {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const dataDir = path.join(yield* fs.makeTempDirectoryScoped({ prefix: "livermore-pglite-" }), "nested", "pglite")
        const bootAndMigrate = Effect.gen(function* () {
          const report = yield* Migrations.run({ directory: sqlDir })
          const info = yield* StoreClient.StorageInfo
          return { applied: report.applied.length, where: info.where }
        }).pipe(Effect.provide(StoreClient.layerEmbedded({ dataDir })))

        assert.deepStrictEqual(yield* bootAndMigrate, { applied: 9, where: dataDir })
        assert.deepStrictEqual(yield* bootAndMigrate, { applied: 0, where: dataDir })
      }).pipe(Effect.provide(NodeContext.layer)),
    TIMEOUT
  )
})
