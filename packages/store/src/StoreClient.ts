/**
 * The Postgres connection every repository runs on: a server reached by URL, or an embedded PGlite served
 * over a local socket. Both provide the same `@effect/sql-pg` client (`PgClient` and `SqlClient`), plus a
 * `StorageInfo` that says which one is in use.
 */
import { FileSystem } from "@effect/platform"
import type { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import { Config, Context, Data, Duration, Effect, Either, Layer, Redacted } from "effect"
import type { ConfigError } from "effect/ConfigError"
import { describeCause } from "./internal/describe.js"

/** Which kind of database backs the store. */
export type Backend = "postgres" | "embedded-pglite"

/** What the store is connected to, without credentials, for `/health` and startup logs. */
export class StorageInfo extends Context.Tag("@livermore/store/StorageInfo")<
  StorageInfo,
  {
    readonly backend: Backend
    /** `host:port/database` for a server; the data directory, or `memory`, for embedded PGlite. */
    readonly where: string
  }
>() {}

/** The database could not be reached (or, embedded, could not start) while the layer was being built. */
export class StoreConnectionError extends Data.TaggedError("StoreConnectionError")<{
  /** The setting the connection came from, e.g. `DATABASE_URL`, named in the message so it can be fixed. */
  readonly setting: string
  /** `host:port` (never credentials), or the embedded data directory. */
  readonly target: string
  readonly reason: "invalid-url" | "unreachable" | "boot-failed"
  readonly cause: unknown
}> {
  override get message(): string {
    const cause = describeCause(this.cause)
    if (this.reason === "invalid-url") return `${this.setting}: not a postgres:// URL (${cause})`
    if (this.reason === "boot-failed") return `${this.setting}: cannot start embedded PGlite at ${this.target} (${cause})`
    return `${this.setting}: cannot connect to ${this.target} (${cause})`
  }
}

/** Services every store layer provides. */
export type Services = PgClient.PgClient | SqlClient.SqlClient | StorageInfo

/** Tunables of a Postgres connection. */
export interface PgOptions {
  /** Connections in the pool. Default 10. */
  readonly maxConnections?: number | undefined
  /** Bound on opening a connection, the first one included, so a dead host fails instead of hanging. Default 5 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** The setting the URL came from, for error messages. Default `DATABASE_URL`. */
  readonly setting?: string | undefined
}

interface Target {
  /** `host:port`, for connection errors. */
  readonly address: string
  /** `host:port/database`, for `StorageInfo`. */
  readonly where: string
}

const parseTarget = (url: string): Either.Either<Target, Error> => {
  try {
    const parsed = new URL(url)
    if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
      return Either.left(new Error(`unsupported scheme "${parsed.protocol}"`))
    }
    const address = `${parsed.hostname || "localhost"}:${parsed.port || "5432"}`
    return Either.right({ address, where: `${address}${parsed.pathname === "/" ? "" : parsed.pathname}` })
  } catch (cause) {
    return Either.left(cause instanceof Error ? cause : new Error(String(cause)))
  }
}

/**
 * `@effect/sql-pg` already runs `SELECT 1` while building its layer, bounded by `connectTimeout`, so an
 * unreachable database fails here rather than at the first query; this only names the setting and target.
 */
const pgLayer = (
  url: Redacted.Redacted,
  options: PgOptions & { readonly idleTimeout?: Duration.DurationInput },
  info: (target: Target) => Context.Tag.Service<StorageInfo>
): Layer.Layer<Services, StoreConnectionError> => {
  const setting = options.setting ?? "DATABASE_URL"
  return Either.match(parseTarget(Redacted.value(url)), {
    onLeft: (cause) =>
      Layer.fail(new StoreConnectionError({ setting, target: "?", reason: "invalid-url", cause })),
    onRight: (target) =>
      PgClient.layer({
        url,
        maxConnections: options.maxConnections ?? 10,
        connectTimeout: options.connectTimeout ?? Duration.seconds(5),
        ...(options.idleTimeout === undefined ? {} : { idleTimeout: options.idleTimeout }),
        applicationName: "livermore"
      }).pipe(
        Layer.mapError(
          (cause) => new StoreConnectionError({ setting, target: target.address, reason: "unreachable", cause })
        ),
        Layer.merge(Layer.succeed(StorageInfo, info(target)))
      )
  })
}

/** A Postgres server at `url` (`postgres://user:pass@host:port/db`). Fails with `StoreConnectionError` if unreachable. */
export const layerPg = (url: Redacted.Redacted, options: PgOptions = {}): Layer.Layer<Services, StoreConnectionError> =>
  pgLayer(url, options, (target) => ({ backend: "postgres", where: target.where }))

/**
 * A Postgres server from configuration:
 * - `DATABASE_URL` (required, redacted): the server's URL.
 * - `DATABASE_MAX_CONNECTIONS`: pool size, default 10.
 * - `DATABASE_CONNECT_TIMEOUT`: bound on opening a connection, default `5 seconds`.
 */
export const layerPgConfig: Layer.Layer<Services, StoreConnectionError | ConfigError> = Layer.unwrapEffect(
  Effect.map(
    Config.all({
      url: Config.redacted("DATABASE_URL").pipe(Config.withDescription("Postgres URL, postgres://user:pass@host:port/db")),
      maxConnections: Config.integer("DATABASE_MAX_CONNECTIONS").pipe(
        Config.validate({ message: "must be at least 1", validation: (n) => n >= 1 }),
        Config.withDefault(10)
      ),
      connectTimeout: Config.duration("DATABASE_CONNECT_TIMEOUT").pipe(Config.withDefault(Duration.seconds(5)))
    }),
    ({ url, ...options }) => layerPg(url, { ...options, setting: "DATABASE_URL" })
  )
)

/** Where embedded PGlite keeps its data. */
export interface EmbeddedOptions {
  /** A directory (created if missing), e.g. `./.livermore/pglite`; `memory://` or undefined keeps everything in memory. */
  readonly dataDir?: string | undefined
  /** Bound on booting PGlite; about 5 s in memory, longer on the first on-disk start. Default 60 seconds. */
  readonly bootTimeout?: Duration.DurationInput | undefined
}

const EMBEDDED_SETTING = "embedded PGlite"

/**
 * Embedded PGlite served by `@electric-sql/pglite-socket` on 127.0.0.1 (a random port) and reached through
 * the same `@effect/sql-pg` client as a server. Both sides are limited to exactly one connection: the socket
 * server multiplexes connections onto PGlite's single session, so a larger pool returns other queries' rows.
 */
export const layerEmbedded = (
  options: EmbeddedOptions = {}
): Layer.Layer<Services, StoreConnectionError, FileSystem.FileSystem> =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const inMemory = options.dataDir === undefined || options.dataDir.startsWith("memory://")
      const where = inMemory ? "memory" : (options.dataDir ?? "memory")
      const bootFailed = (cause: unknown) =>
        new StoreConnectionError({ setting: EMBEDDED_SETTING, target: where, reason: "boot-failed", cause })

      if (!inMemory) {
        const fs = yield* FileSystem.FileSystem
        // PGlite creates only the last path segment; `./.livermore/pglite` needs its parent too.
        yield* fs.makeDirectory(where, { recursive: true }).pipe(Effect.mapError(bootFailed))
      }

      const { port } = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            const db = inMemory ? await PGlite.create() : await PGlite.create(where)
            const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 1 })
            try {
              await server.start()
            } catch (cause) {
              await db.close()
              throw cause
            }
            const port = Number(server.getServerConn().split(":").at(-1))
            return { db, server, port }
          },
          catch: bootFailed
        }).pipe(
          Effect.timeoutFail({
            duration: options.bootTimeout ?? Duration.seconds(60),
            onTimeout: () => bootFailed(new Error("timed out"))
          })
        ),
        ({ db, server }) =>
          Effect.promise(async () => {
            await server.stop()
            await db.close()
          })
      )

      return pgLayer(
        Redacted.make(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`),
        {
          maxConnections: 1,
          setting: EMBEDDED_SETTING,
          // Keep the one connection open: pg's default closes it after 10 s idle, and reconnecting races the
          // socket server's single slot.
          idleTimeout: Duration.zero
        },
        () => ({ backend: "embedded-pglite", where })
      )
    })
  )
