/**
 * Which storage the node uses, chosen once from configuration: Redis and Postgres when `REDIS_URL` and
 * `DATABASE_URL` are set, otherwise the embedded default (in-memory cache, PGlite under the data directory).
 */
import { NodeFileSystem } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { CacheConfig, CacheServices, RedisClient } from "@livermore/cache"
import { ControlChannel, JsonStore } from "@livermore/engine"
import { StoreClient } from "@livermore/store"
import { Config, Context, Data, Effect, Layer, Option, type Redacted } from "effect"
import * as path from "node:path"

/** What configuration asks for, before anything is connected. */
export interface StorageChoice {
  readonly redisUrl: Option.Option<Redacted.Redacted>
  readonly databaseUrl: Option.Option<Redacted.Redacted>
  /** `LIVERMORE_DATA_DIR`, default `./.livermore`: where the embedded database keeps its files. */
  readonly dataDir: string
}

/** Reads `REDIS_URL`, `DATABASE_URL` (both optional: unset selects the embedded default) and `LIVERMORE_DATA_DIR`. */
export const choiceConfig: Config.Config<StorageChoice> = Config.all({
  redisUrl: Config.option(Config.redacted("REDIS_URL")),
  databaseUrl: Config.option(Config.redacted("DATABASE_URL")),
  dataDir: Config.string("LIVERMORE_DATA_DIR").pipe(
    Config.validate({ message: "must not be empty", validation: (dir) => dir.trim() !== "" }),
    Config.withDefault(".livermore")
  )
})

/** Where the embedded PGlite database lives inside the data directory. */
export const embeddedDatabaseDir = (choice: StorageChoice): string => path.join(choice.dataDir, "pglite")

/** The storage choice in words, for the first log lines (no credentials). */
export const describeChoice = (choice: StorageChoice): ReadonlyArray<string> => [
  Option.isSome(choice.databaseUrl)
    ? "database: Postgres from DATABASE_URL"
    : `database: embedded PGlite in ${embeddedDatabaseDir(choice)} (DATABASE_URL is not set)`,
  Option.isSome(choice.redisUrl) ? "cache: Redis from REDIS_URL" : "cache: in-process memory (REDIS_URL is not set)"
]

/** One backend as `/health` reports it. */
export interface BackendReport {
  readonly backend: string
  readonly where: string
  readonly reachable: boolean
  readonly error?: string
}

/** The storage in use and a live check of it. */
export class Storage extends Context.Tag("@livermore/node/Storage")<
  Storage,
  {
    /** Ping every backend (bounded), for `/health`. */
    readonly check: Effect.Effect<{ readonly database: BackendReport | null; readonly cache: BackendReport }>
  }
>() {}

const probe = <E>(
  backend: string,
  where: string,
  ping: Effect.Effect<unknown, E>,
  describe: (error: E) => string
): Effect.Effect<BackendReport> =>
  ping.pipe(
    Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => "no answer within 2 seconds" as const }),
    Effect.match({
      onSuccess: () => ({ backend, where, reachable: true }),
      onFailure: (error) => ({
        backend,
        where,
        reachable: false,
        error: typeof error === "string" ? error : describe(error)
      })
    })
  )

/** How the selected cache backend answers a ping. */
class CacheCheck extends Context.Tag("@livermore/node/Storage/CacheCheck")<CacheCheck, Effect.Effect<BackendReport>>() {}

/** The database layer for a choice: Postgres from `DATABASE_URL`, or embedded PGlite. */
export const databaseLayer = (choice: StorageChoice) =>
  Option.isSome(choice.databaseUrl)
    ? StoreClient.layerPgConfig
    : StoreClient.layerEmbedded({ dataDir: embeddedDatabaseDir(choice) }).pipe(Layer.provide(NodeFileSystem.layer))

/** The cache server could not be reached at start; the message names the setting to fix. */
export class CacheUnreachable extends Data.TaggedError("CacheUnreachable")<{ readonly cause: RedisClient.RedisError }> {
  override get message(): string {
    const reason = this.cause.cause instanceof Error ? this.cause.cause.message : String(this.cause.cause)
    return `REDIS_URL: cannot connect to ${this.cause.host} (${reason})`
  }
}

const redisLayer = Layer.unwrapEffect(
  Effect.map(RedisClient.config, (options) => {
    const client = RedisClient.layer(options).pipe(
      Layer.mapError((error) => (error._tag === "RedisError" ? new CacheUnreachable({ cause: error }) : error))
    )
    const check = Layer.effect(
      CacheCheck,
      Effect.map(RedisClient.RedisClient, (redis) =>
        probe("redis", redis.host, redis.use("ping", (r) => r.ping()), (e) => e.message)
      )
    )
    return Layer.mergeAll(CacheServices.layerRedis, JsonStore.layerRedis, ControlChannel.layerRedis, check).pipe(
      Layer.provideMerge(client)
    )
  })
)

const memoryLayer = Layer.mergeAll(
  CacheServices.layerMemory,
  JsonStore.layerMemory,
  ControlChannel.layerMemory,
  Layer.succeed(CacheCheck, Effect.succeed({ backend: "memory", where: "in-process", reachable: true }))
)

/** The cache layer for a choice: every cache service on Redis, or in memory. */
export const cacheLayer = (choice: StorageChoice) =>
  (Option.isSome(choice.redisUrl) ? redisLayer : memoryLayer).pipe(Layer.provide(CacheConfig.layerConfig))

/** `Storage` over the database and cache the choice selects; also provides those services themselves. */
export const layer = (choice: StorageChoice) => {
  const storage = Layer.effect(
    Storage,
    Effect.gen(function* () {
      const info = yield* StoreClient.StorageInfo
      const sql = yield* SqlClient.SqlClient
      const cacheCheck = yield* CacheCheck
      const databaseCheck = probe(info.backend, info.where, sql`SELECT 1`, (e) => e.message)
      return { check: Effect.all({ database: databaseCheck, cache: cacheCheck }, { concurrency: 2 }) }
    })
  )
  return storage.pipe(Layer.provideMerge(Layer.merge(databaseLayer(choice), cacheLayer(choice))))
}

/** `Storage` over the cache alone: `pw-host` serves from Redis and has no database (its report says null). */
export const cacheOnlyLayer = (choice: StorageChoice) =>
  Layer.effect(
    Storage,
    Effect.map(CacheCheck, (cacheCheck) => ({
      check: Effect.map(cacheCheck, (cache) => ({ database: null, cache }))
    }))
  ).pipe(Layer.provideMerge(cacheLayer(choice)))
