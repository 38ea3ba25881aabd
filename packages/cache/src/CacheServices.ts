/** Every cache service at once, on Redis or in memory: what an application or a test usually provides. */
import { Layer } from "effect"
import * as Bus from "./Bus.js"
import type { CacheConfig } from "./CacheConfig.js"
import * as CandleCache from "./CandleCache.js"
import * as EventLog from "./EventLog.js"
import * as ExchangeLock from "./ExchangeLock.js"
import * as IndicatorStore from "./IndicatorStore.js"
import * as InstanceRegistry from "./InstanceRegistry.js"
import * as PublicCatalog from "./PublicCatalog.js"
import type { RedisClient } from "./RedisClient.js"
import * as StatusStore from "./StatusStore.js"
import * as TickerCache from "./TickerCache.js"

/** The services of this package. */
export type Services =
  | CandleCache.CandleCache
  | TickerCache.TickerCache
  | IndicatorStore.IndicatorStore
  | Bus.Bus
  | EventLog.EventLog
  | StatusStore.StatusStore
  | InstanceRegistry.InstanceRegistry
  | ExchangeLock.ExchangeLock
  | PublicCatalog.PublicCatalog

/** All services over one `RedisClient`. */
export const layerRedis: Layer.Layer<Services, never, RedisClient | CacheConfig> = Layer.mergeAll(
  CandleCache.layerRedis,
  TickerCache.layerRedis,
  IndicatorStore.layerRedis,
  Bus.layerRedis,
  EventLog.layerRedis,
  StatusStore.layerRedis,
  InstanceRegistry.layerRedis,
  ExchangeLock.layerRedis,
  PublicCatalog.layerRedis
)

/** All services in process memory (one instance of each: build it once and share it). */
export const layerMemory: Layer.Layer<Services, never, CacheConfig> = Layer.mergeAll(
  CandleCache.layerMemory,
  TickerCache.layerMemory,
  IndicatorStore.layerMemory,
  Bus.layerMemory,
  EventLog.layerMemory,
  StatusStore.layerMemory,
  InstanceRegistry.layerMemory,
  ExchangeLock.layerMemory,
  PublicCatalog.layerMemory
)
