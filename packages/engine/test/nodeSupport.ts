/**
 * Pieces for tests that run whole exchange runners: a real Redis under a namespace unique to the run (deleted
 * afterwards), exchange rows pointing at a simulator, and one "node" (lifecycle + runner) per instance id.
 */
import { FetchHttpClient } from "@effect/platform"
import { CacheConfig, CacheServices, ExchangeLock } from "@livermore/cache"
import { type Alert, Exchange, Market } from "@livermore/domain"
import type { ExchangeAdapter } from "@livermore/exchange"
import { BinanceAdapter, BinanceConfig } from "@livermore/exchange-binance"
import { CoinbaseAdapter } from "@livermore/exchange-coinbase"
import type { ExchangeSim } from "@livermore/exchange-sim"
import { type Duration, Effect, Layer, Option } from "effect"
import * as AlertOutbox from "../src/AlertOutbox.js"
import * as ExchangeRunner from "../src/ExchangeRunner.js"
import * as JsonStore from "../src/JsonStore.js"
import * as Lifecycle from "../src/Lifecycle.js"
import { redisLayer } from "./redisNamespace.js"

/**
 * An outbox that only remembers what it was offered: for runner tests that do not look at alerts (storing and
 * delivering them is LivePipeline.test's and AlertOutbox.test's business, against real Postgres and HTTP).
 */
export const rememberingOutbox = Layer.sync(AlertOutbox.AlertOutbox, () => {
  const offered: Array<Alert.Alert> = []
  return { offer: (alert) => Effect.sync(() => void offered.push(alert)), drained: Effect.void }
})

/** Every cache service on the real Redis, under a fresh namespace that is deleted when the layer closes. */
export const redisCache = () =>
  Layer.mergeAll(CacheServices.layerRedis, JsonStore.layerRedis, rememberingOutbox).pipe(
    Layer.provideMerge(CacheConfig.layer()),
    Layer.provideMerge(redisLayer("runner"))
  )

let nextId = 0
const runBase = 500_000 + Math.floor(Math.random() * 400_000)

/** A row for the simulator's Binance or Coinbase side, on an exchange id and name unique to this run. */
export const simRow = (sim: ExchangeSim.SimHandle, adapter: Exchange.AdapterKind): Exchange.Exchange => {
  const n = nextId++
  const binance = adapter === "binance"
  return new Exchange.Exchange({
    id: Exchange.ExchangeId.make(runBase + n),
    name: Exchange.ExchangeName.make(`runner_test_${adapter}_${runBase}_${n}`),
    displayName: `${adapter} (simulator)`,
    adapter,
    wsUrl: sim.wsUrl,
    restUrl: sim.url,
    timeframes: ["5m", "15m", "1h", "4h", "1d"],
    apiLimits: new Exchange.ApiLimits({
      restWeightPerMinute: binance ? 6000 : 600,
      candlesPerRequest: binance ? 1000 : 350,
      wsMessagesPerSecond: binance ? 5 : 8,
      wsMaxStreamsPerConnection: binance ? 1024 : 100,
      wsMaxConnectionHours: binance ? Option.some(24) : Option.none()
    }),
    fees: new Exchange.Fees({ maker: 0.001, taker: 0.001 }),
    geoRestrictions: [],
    isActive: true
  })
}

/** The first `count` symbols of the simulator, as the row's adapter names them. */
export const simSymbols = (sim: ExchangeSim.SimHandle, adapter: Exchange.AdapterKind, count: number) =>
  sim.market.symbols.slice(0, count).map((s) => Market.SymbolId.make(adapter === "binance" ? s.binance : s.coinbase))

/** The adapter of `row` over HTTP. */
export const adapterLayer = (row: Exchange.Exchange): Layer.Layer<ExchangeAdapter.ExchangeAdapter> =>
  (row.adapter === "binance"
    ? BinanceAdapter.layer(row).pipe(Layer.provide(BinanceConfig.layer({ timeSyncInterval: "1 millis" })))
    : CoinbaseAdapter.layer(row)
  ).pipe(Layer.provide(FetchHttpClient.layer))

/** One instance serving `row`: its lifecycle and runner, over the cache services and adapter of the environment. */
export const nodeLayer = (
  row: Exchange.Exchange,
  instanceId: string,
  options: Omit<ExchangeRunner.Options, "holder"> & { readonly statusTtl?: Duration.DurationInput }
) =>
  ExchangeRunner.layer({
    ...options,
    holder: new ExchangeLock.LockHolder({
      instanceId,
      hostname: `host-of-${instanceId}`,
      ipAddress: "127.0.0.1",
      connectedAt: null
    })
  }).pipe(
    Layer.provideMerge(
      Lifecycle.layer({
        exchangeId: row.id,
        exchangeName: row.name,
        instanceId,
        hostname: `host-of-${instanceId}`,
        ipAddress: "127.0.0.1",
        ipSource: "local",
        adminEmail: null,
        adminDisplayName: null,
        mode: "exchange",
        version: "0.0.0-test",
        symbolCount: 0,
        statusTtl: options.statusTtl ?? "30 seconds",
        writeStatus: "lock-holder"
      })
    )
  )
