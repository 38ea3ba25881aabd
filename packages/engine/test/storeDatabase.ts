/**
 * Real-Postgres fixtures for engine tests, after packages/store/test/utils.ts: each test file gets a fresh
 * database on `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`), migrated with the
 * repository's `sql/`, with every repository on top, and dropped when the file ends.
 */
import { NodeContext } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { afterAll, beforeAll } from "@effect/vitest"
import { Migrations, Repositories, StoreClient } from "@livermore/store"
import { Config, Context, Data, Duration, Effect, Layer, ManagedRuntime, Redacted, type Scope } from "effect"
import { randomUUID } from "node:crypto"

/** The tests' Postgres server cannot be used; the message says how to start it. */
export class PostgresUnavailable extends Data.TaggedError("PostgresUnavailable")<{ readonly cause: unknown }> {
  override get message(): string {
    const cause = this.cause instanceof Error ? this.cause.message : String(this.cause)
    return `These tests need a running Postgres (${cause}). Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`
  }
}

const baseUrl = Config.redacted("TEST_DATABASE_URL").pipe(
  Config.withDefault(Redacted.make("postgres://postgres@127.0.0.1:5432/postgres"))
)

/** A new empty database, dropped (even with open connections) when the scope closes; returns its URL. */
const makeDatabase: Effect.Effect<Redacted.Redacted, PostgresUnavailable, Scope.Scope> = Effect.gen(function* () {
  const base = yield* baseUrl
  const context = yield* Layer.build(
    StoreClient.layerPg(base, { setting: "TEST_DATABASE_URL", maxConnections: 1, connectTimeout: "3 seconds" })
  )
  const admin = Context.get(context, SqlClient.SqlClient)
  const name = `livermore_engine_test_${randomUUID().replaceAll("-", "").slice(0, 12)}`
  yield* Effect.acquireRelease(admin.unsafe(`CREATE DATABASE ${name}`), () =>
    admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).pipe(Effect.orDie)
  )
  const url = new URL(Redacted.value(base))
  url.pathname = `/${name}`
  return Redacted.make(url.toString())
}).pipe(Effect.mapError((cause) => new PostgresUnavailable({ cause })))

/** A fresh database migrated with the repository's `sql/`, with every repository and the `SqlClient`. */
export const MigratedStore = Repositories.layer.pipe(
  Layer.provideMerge(
    Migrations.layer({ directory: Migrations.repoSqlDirectory() }).pipe(
      Layer.provide(NodeContext.layer),
      Layer.provideMerge(
        Layer.unwrapScoped(
          Effect.map(makeDatabase, (url) => StoreClient.layerPg(url, { setting: "TEST_DATABASE_URL", maxConnections: 4 }))
        )
      )
    )
  )
)

/**
 * One instance of `layer` shared by the tests of a file: built in `beforeAll`, released in `afterAll`. Returns a
 * function providing it to a test's effect. A layer that cannot be built fails each test with its error (an
 * unreachable Postgres never looks like a pass or a skip).
 */
export const shared = <R, E>(layer: Layer.Layer<R, E>, timeout: Duration.DurationInput = "60 seconds") => {
  const runtime = ManagedRuntime.make(layer)
  const ms = Duration.toMillis(timeout)
  beforeAll(() => runtime.runPromiseExit(Effect.void).then(() => undefined), ms)
  afterAll(() => runtime.dispose(), ms)
  return <A, E2>(effect: Effect.Effect<A, E2, R>): Effect.Effect<A, E | E2> => Effect.provide(effect, runtime)
}
