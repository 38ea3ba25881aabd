/**
 * Projects what the public API serves from Postgres into the public catalog (`@livermore/cache` PublicCatalog),
 * so that `pw-host` nodes answer from Redis alone (domain.md §9): the exchanges, each exchange's shared symbols,
 * the active API keys, and the database's `last_used_at` catching up with the uses recorded in the cache.
 * Nodes that hold the database run `syncAll` at start; the exchange node re-projects its symbols after each
 * universe refresh; the `api-keys` commands keep the keys in step.
 */
import { Bus, Keys, PublicCatalog } from "@livermore/cache"
import type { Exchange } from "@livermore/domain"
import * as ApiKeys from "./ApiKeys.js"
import { ApiKeysRepo, ExchangeSymbolsRepo, ExchangesRepo } from "@livermore/store"
import { Effect, Option, Redacted } from "effect"

/** What changing keys (`createKey`, `revokeKey`, `syncApiKeys`) needs. */
export type Requirements = PublicCatalog.PublicCatalog | ApiKeysRepo.ApiKeysRepo | Bus.Bus

const toCatalogKey = (key: ApiKeysRepo.ApiKey, keyHash: string): PublicCatalog.CatalogApiKey => ({
  id: key.id,
  keyHash,
  name: key.name,
  prefix: key.prefix
})

/** The Tier 1 symbols of `exchangeId`, as the public API lists them. */
export const syncSymbols = Effect.fn("PublicCatalogSync.syncSymbols")(function* (exchangeId: Exchange.ExchangeId) {
  const catalog = yield* PublicCatalog.PublicCatalog
  const symbols = yield* (yield* ExchangeSymbolsRepo.ExchangeSymbolsRepo).listByExchange(exchangeId, 1)
  yield* catalog.putSymbols(
    exchangeId,
    symbols.map((s) => ({
      symbol: s.symbol,
      baseAsset: s.baseAsset,
      quoteAsset: s.quoteAsset,
      liquidityGrade: s.liquidityGrade,
      rank: Option.getOrNull(s.rank),
      quoteVolume24h: s.quoteVolume24h
    }))
  )
  return symbols.length
})

/** Exchanges, symbols of every exchange, and the active keys. */
export const syncAll = Effect.fn("PublicCatalogSync.syncAll")(function* () {
  const catalog = yield* PublicCatalog.PublicCatalog
  const exchanges = yield* (yield* ExchangesRepo.ExchangesRepo).list
  yield* catalog.putExchanges(
    exchanges.map((e) => ({
      id: e.id,
      name: e.name,
      displayName: e.displayName,
      timeframes: [...e.timeframes],
      isActive: e.isActive
    }))
  )
  for (const exchange of exchanges) yield* syncSymbols(exchange.id)
  const keys = yield* syncApiKeys()
  return { exchanges: exchanges.length, keys }
})

/**
 * Make the catalog's keys exactly the active keys (a Redis flush or a missed revoke heals here), then tell the
 * API servers to look keys up again. Under the keys' lock: a node starting while a key is revoked cannot read the
 * key as active and write it back after the revocation's own sync removed it.
 */
export const syncApiKeys = Effect.fn("PublicCatalogSync.syncApiKeys")(function* () {
  const catalog = yield* PublicCatalog.PublicCatalog
  const repo = yield* ApiKeysRepo.ApiKeysRepo
  const bus = yield* Bus.Bus
  yield* recordUsage()
  const keys = yield* repo.exclusively(
    Effect.gen(function* () {
      const active = yield* repo.activeHashes
      yield* catalog.replaceApiKeys(
        new Map(active.map(({ key, keyHash }) => [keyHash, toCatalogKey(key, keyHash)] as const))
      )
      return active
    })
  )
  yield* bus.publish(Keys.apiKeysChangedChannel, ApiKeys.ApiKeysChanged, "changed")
  return keys.length
})

/** Revoke a key and take it out of the catalog, under the keys' lock (see `syncApiKeys`). */
export const revokeKey = Effect.fn("PublicCatalogSync.revokeKey")(function* (id: number) {
  const repo = yield* ApiKeysRepo.ApiKeysRepo
  const revoked = yield* repo.exclusively(repo.revoke(id))
  const active = yield* syncApiKeys()
  return { revoked, active }
})

/** Copy the last uses recorded by the API servers into `api_keys.last_used_at`. */
export const recordUsage = Effect.fn("PublicCatalogSync.recordUsage")(function* () {
  const catalog = yield* PublicCatalog.PublicCatalog
  const repo = yield* ApiKeysRepo.ApiKeysRepo
  for (const [id, at] of yield* catalog.apiKeysUsed) yield* repo.recordLastUsed(id, new Date(at))
})

/** Create a key in the database and make it usable at once. */
export const createKey = Effect.fn("PublicCatalogSync.createKey")(function* (name: string) {
  const catalog = yield* PublicCatalog.PublicCatalog
  const created = yield* (yield* ApiKeysRepo.ApiKeysRepo).create({ name })
  const keyHash = ApiKeysRepo.hashKey(Redacted.value(created.secret))
  yield* catalog.putApiKey(keyHash, toCatalogKey(created.apiKey, keyHash))
  return created
})
