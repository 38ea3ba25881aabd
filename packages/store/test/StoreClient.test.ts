import { SqlClient } from "@effect/sql"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Layer, Redacted } from "effect"
import { createServer, type Server, type Socket } from "node:net"
import { StoreClient } from "../src/index.js"
import { makeDatabase } from "./utils.js"

/** A TCP server that accepts connections and never answers: a database that hangs. */
const silentServer = Effect.acquireRelease(
  Effect.async<{ readonly server: Server; readonly sockets: Set<Socket>; readonly port: number }>((resume) => {
    const sockets = new Set<Socket>()
    const server = createServer((socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resume(Effect.succeed({ server, sockets, port: typeof address === "object" && address ? address.port : 0 }))
    })
  }),
  ({ server, sockets }) =>
    Effect.async<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      server.close(() => resume(Effect.void))
    })
)

/** A port nothing listens on: bind one, then close it. */
const closedPort = Effect.map(silentServer, ({ port }) => port).pipe(Effect.scoped)

describe("StoreClient", () => {
  it.live("an unreachable database fails the layer with the setting and the cause", () =>
    Effect.gen(function* () {
      const port = yield* closedPort
      const error = yield* Effect.flip(
        Layer.build(StoreClient.layerPg(Redacted.make(`postgres://postgres@127.0.0.1:${port}/postgres`))).pipe(Effect.scoped)
      )
      assert.strictEqual(error._tag, "StoreConnectionError")
      assert.strictEqual(error.message, `DATABASE_URL: cannot connect to 127.0.0.1:${port} (ECONNREFUSED)`)
    })
  )

  it.live("layerPgConfig reads DATABASE_URL and names it in errors", () =>
    Effect.gen(function* () {
      const port = yield* closedPort
      const error = yield* Effect.flip(
        Layer.build(StoreClient.layerPgConfig).pipe(
          Effect.scoped,
          Effect.withConfigProvider(
            ConfigProvider.fromMap(new Map([["DATABASE_URL", `postgres://app:secret@127.0.0.1:${port}/livermore`]]))
          )
        )
      )
      assert.strictEqual(error._tag, "StoreConnectionError")
      assert.strictEqual(error.message, `DATABASE_URL: cannot connect to 127.0.0.1:${port} (ECONNREFUSED)`)
      assert.notInclude(error.message, "secret")

      const missing = yield* Effect.flip(
        Layer.build(StoreClient.layerPgConfig).pipe(
          Effect.scoped,
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
        )
      )
      assert.strictEqual(missing._tag, "ConfigError")
      assert.include(String(missing), "DATABASE_URL")
    })
  )

  it.live("a database that accepts but never answers fails within the connect timeout", () =>
    Effect.gen(function* () {
      const { port } = yield* silentServer
      const started = Date.now()
      const error = yield* Effect.flip(
        Layer.build(
          StoreClient.layerPg(Redacted.make(`postgres://postgres@127.0.0.1:${port}/postgres`), { connectTimeout: "500 millis" })
        )
      )
      const elapsed = Date.now() - started
      assert.strictEqual(error._tag, "StoreConnectionError")
      assert.include(error.message, `DATABASE_URL: cannot connect to 127.0.0.1:${port}`)
      assert.isBelow(elapsed, 3_000)
    }).pipe(Effect.scoped)
  )

  it.live("a URL that is not postgres:// fails with invalid-url", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Layer.build(StoreClient.layerPg(Redacted.make("mysql://root@localhost/db"), { setting: "MY_DB" })).pipe(Effect.scoped)
      )
      assert.strictEqual(error._tag, "StoreConnectionError")
      assert.strictEqual(error.reason, "invalid-url")
      assert.include(error.message, "MY_DB: not a postgres:// URL")
    })
  )

  it.scopedLive("a reachable server provides SqlClient and a StorageInfo without credentials", () =>
    Effect.gen(function* () {
      const url = yield* makeDatabase
      const context = yield* Layer.build(StoreClient.layerPg(url))
      const info = Context.get(context, StoreClient.StorageInfo)
      const parsed = new URL(Redacted.value(url))
      assert.strictEqual(info.backend, "postgres")
      assert.strictEqual(info.where, `${parsed.hostname}:${parsed.port || "5432"}${parsed.pathname}`)
      assert.notInclude(info.where, "postgres@")
      const rows = yield* Context.get(context, SqlClient.SqlClient)<{ readonly one: number }>`SELECT 1 AS one`
      assert.strictEqual(rows[0]!.one, 1)
    })
  )
})
