/**
 * Test databases: each test file gets fresh databases on the real Postgres at `TEST_DATABASE_URL`
 * (default `postgres://postgres@127.0.0.1:5432/postgres`), dropped when the file's scope closes.
 */
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { afterAll, beforeAll } from "@effect/vitest"
import { Config, Context, Data, Duration, Effect, Layer, ManagedRuntime, Redacted, type Scope } from "effect"
import { randomUUID } from "node:crypto"
import { Migrations, Repositories, StoreClient } from "../src/index.js"

/** How to start the local cluster, printed when it is down. */
export const START_HINT = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"

/** The tests' Postgres server cannot be used; the message says how to start it. */
export class PostgresUnavailable extends Data.TaggedError("PostgresUnavailable")<{ readonly cause: unknown }> {
  override get message(): string {
    const cause = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `The store tests need a running Postgres (${cause}). Start it with: ${START_HINT}`
  }
}

const baseUrl = Config.redacted("TEST_DATABASE_URL").pipe(
  Config.withDefault(Redacted.make("postgres://postgres@127.0.0.1:5432/postgres"))
)

/** The admin connection to the tests' server, for creating and dropping databases. */
const adminClient = Effect.gen(function* () {
  const base = yield* baseUrl
  const context = yield* Layer.build(
    StoreClient.layerPg(base, { setting: "TEST_DATABASE_URL", maxConnections: 1, connectTimeout: "3 seconds" })
  )
  return { base, admin: Context.get(context, SqlClient.SqlClient) }
}).pipe(Effect.mapError((cause) => new PostgresUnavailable({ cause })))

/** A new empty database, dropped (even with open connections) when the scope closes; returns its URL. */
export const makeDatabase: Effect.Effect<Redacted.Redacted, PostgresUnavailable, Scope.Scope> = Effect.gen(function* () {
  const { base, admin } = yield* adminClient
  const name = `livermore_test_${randomUUID().replaceAll("-", "").slice(0, 12)}`
  yield* Effect.acquireRelease(admin.unsafe(`CREATE DATABASE ${name}`), () =>
    admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).pipe(Effect.orDie)
  ).pipe(Effect.mapError((cause) => new PostgresUnavailable({ cause })))
  const url = new URL(Redacted.value(base))
  url.pathname = `/${name}`
  return Redacted.make(url.toString())
})

/** A `SqlClient` on a new empty database, both released with the scope. */
export const freshClient = (maxConnections = 4): Effect.Effect<SqlClient.SqlClient, PostgresUnavailable, Scope.Scope> =>
  Effect.gen(function* () {
    const url = yield* makeDatabase
    const context = yield* Layer.build(StoreClient.layerPg(url, { setting: "TEST_DATABASE_URL", maxConnections })).pipe(
      Effect.mapError((cause) => new PostgresUnavailable({ cause }))
    )
    return Context.get(context, SqlClient.SqlClient)
  })

/** A client on a fresh, empty database (not migrated). */
export const FreshDatabase = Layer.unwrapScoped(
  Effect.map(makeDatabase, (url) => StoreClient.layerPg(url, { setting: "TEST_DATABASE_URL", maxConnections: 4 }))
)

/** A fresh database migrated with the repository's `sql/`, with every repository on top. */
export const MigratedStore = Repositories.layer.pipe(
  Layer.provideMerge(
    Migrations.layer({ directory: Migrations.repoSqlDirectory() }).pipe(
      Layer.provide(NodeContext.layer),
      Layer.provideMerge(FreshDatabase)
    )
  )
)

/**
 * One instance of `layer` shared by the tests of a file: built once (warmed up in `beforeAll`), released in
 * `afterAll`. Returns a function that provides it to a test's effect.
 *
 * Unlike `@effect/vitest`'s `layer()`, whose failing `beforeAll` reports every test as skipped, a layer that
 * cannot be built here fails each test with its error: an unreachable Postgres must never look like a pass.
 */
export const shared = <R, E>(layer: Layer.Layer<R, E>, timeout: Duration.DurationInput = "60 seconds") => {
  const runtime = ManagedRuntime.make(layer)
  const ms = Duration.toMillis(timeout)
  beforeAll(() => runtime.runPromiseExit(Effect.void).then(() => undefined), ms)
  afterAll(() => runtime.dispose(), ms)
  return <A, E2>(effect: Effect.Effect<A, E2, R>): Effect.Effect<A, E | E2> => Effect.provide(effect, runtime)
}
