/**
 * Projects what the public API serves from Postgres into the public catalog (`@livermore/cache` PublicCatalog),
 * so that `pw-host` nodes answer from Redis alone (domain.md §9): the exchanges, each exchange's shared symbols,
 * the active API keys, and the database's `last_used_at` catching up with the uses recorded in the cache.
 * Nodes that hold the database run `syncAll` at start; the exchange node re-projects its symbols after each
 * universe refresh; the `api-keys` commands keep the keys in step.
 */
import { PublicCatalog } from "@livermore/cache"
import type { Exchange } from "@livermore/domain"
import { ApiKeysRepo, ExchangeSymbolsRepo, ExchangesRepo } from "@livermore/store"
import { Effect, Option, Redacted } from "effect"

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

/** Make the catalog's keys exactly the active keys (a Redis flush or a missed revoke heals here). */
export const syncApiKeys = Effect.fn("PublicCatalogSync.syncApiKeys")(function* () {
  const catalog = yield* PublicCatalog.PublicCatalog
  const repo = yield* ApiKeysRepo.ApiKeysRepo
  yield* recordUsage()
  const keys = yield* repo.activeHashes
  yield* catalog.replaceApiKeys(new Map(keys.map(({ key, keyHash }) => [keyHash, toCatalogKey(key, keyHash)] as const)))
  return keys.length
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
