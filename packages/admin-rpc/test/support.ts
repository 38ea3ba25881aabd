/**
 * A real admin RPC server for the tests: a fresh, migrated Postgres database, a fresh Redis namespace, the
 * routes of `AdminRoutes` on a Node HTTP server on a free port, and RPC clients over HTTP and WebSocket.
 */
import { FetchHttpClient, Headers, HttpLayerRouter, HttpServer } from "@effect/platform"
import { NodeContext, NodeHttpServer, NodeSocket } from "@effect/platform-node"
import { RpcClient, RpcMiddleware, RpcSerialization } from "@effect/rpc"
import { CacheConfig, CacheServices, RedisClient } from "@livermore/cache"
import { ControlChannel, JsonStore } from "@livermore/engine"
import { Migrations, Repositories, StoreClient } from "@livermore/store"
import { SqlClient } from "@effect/sql"
import { Config, Context, Duration, Effect, Layer, Option, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import type { Exchange } from "@livermore/domain"
import { BinanceAdapter } from "@livermore/exchange-binance"
import { CoinbaseAdapter } from "@livermore/exchange-coinbase"
import { AdminAuth, AdminRoutes, AdminRpcs, AdminVerifier, ExchangeCatalog } from "../src/index.js"

const setting = <A>(config: Config.Config<A>): A => Effect.runSync(config)
export const redisUrl = setting(Config.string("REDIS_URL").pipe(Config.withDefault("redis://127.0.0.1:6379")))
const postgresUrl = setting(
  Config.string("TEST_DATABASE_URL").pipe(Config.withDefault("postgres://postgres@127.0.0.1:5432/postgres"))
)

/** A new database, migrated, dropped with the scope. */
const FreshStore = Layer.unwrapScoped(
  Effect.gen(function* () {
    const name = `livermore_admin_${randomUUID().replaceAll("-", "").slice(0, 12)}`
    const admin = Context.get(
      yield* Layer.build(StoreClient.layerPg(Redacted.make(postgresUrl), { maxConnections: 1 })),
      SqlClient.SqlClient
    )
    yield* Effect.acquireRelease(admin.unsafe(`CREATE DATABASE ${name}`), () =>
      admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).pipe(Effect.orDie)
    )
    const url = new URL(postgresUrl)
    url.pathname = `/${name}`
    return Layer.provideMerge(
      Migrations.layer({ directory: Migrations.repoSqlDirectory() }).pipe(Layer.provide(NodeContext.layer)),
      StoreClient.layerPg(Redacted.make(url.toString()), { maxConnections: 4 })
    )
  })
)

const Cache = Layer.mergeAll(CacheServices.layerRedis, ControlChannel.layerRedis, JsonStore.layerRedis).pipe(
  Layer.provideMerge(CacheConfig.layer()),
  Layer.provideMerge(RedisClient.layer({ url: redisUrl, keyPrefix: `admin-test:${randomUUID()}:` }))
)

/** Verifier settings for a test: local tokens only unless `oidc` is given; `trustFor` 0 so each call is checked. */
export const settings = (oidc: Option.Option<AdminVerifier.OidcSettings> = Option.none()): AdminVerifier.VerifierSettings => ({
  oidc,
  trustFor: Duration.zero
})

/** The adapter of a row, by its `adapter` column, as the node chooses it; `patch` may point the row elsewhere. */
export const adapterFor =
  (patch: (row: Exchange.Exchange) => Exchange.Exchange = (row) => row) => (row: Exchange.Exchange) =>
    (row.adapter === "binance" ? BinanceAdapter.layer(patch(row)) : CoinbaseAdapter.layer(patch(row))).pipe(
      Layer.provide(FetchHttpClient.layer)
    )

/** The server with its storage: the layer to build per test file. */
export const serverLayer = (verifier: AdminVerifier.VerifierSettings, catalog: ExchangeCatalog.Options = { adapterFor: adapterFor() }) =>
  HttpLayerRouter.serve(AdminRoutes.layer, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provide(AdminVerifier.layer(verifier)),
    Layer.provide(ExchangeCatalog.layer(catalog)),
    Layer.provideMerge(Repositories.layer),
    Layer.provideMerge(Cache),
    Layer.provideMerge(FreshStore),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
  )

/** The server's base URL. */
export const baseUrl = Effect.map(HttpServer.HttpServer, ({ address }) =>
  address._tag === "TcpAddress" ? `127.0.0.1:${address.port}` : "unix"
)

/** Sends `Authorization` with each call: `Bearer <token>`, the header as given (`raw`), or none. */
export const clientAuth = (auth: { readonly token: string } | { readonly raw: string } | "none") =>
  RpcMiddleware.layerClient(AdminAuth.AdminAuth, ({ request }) =>
    Effect.succeed(
      auth === "none"
        ? request
        : {
            ...request,
            headers: Headers.set(request.headers, "authorization", "token" in auth ? `Bearer ${auth.token}` : auth.raw)
          }
    )
  )

/** A client of the server over HTTP (NDJSON), or over its WebSocket. */
export const client = (
  auth: Parameters<typeof clientAuth>[0],
  transport: "http" | "websocket" = "http"
) =>
  Effect.gen(function* () {
    const host = yield* baseUrl
    const protocol =
      transport === "http"
        ? RpcClient.layerProtocolHttp({ url: `http://${host}${AdminRoutes.httpPath}` }).pipe(
            Layer.provide(FetchHttpClient.layer),
            Layer.provide(RpcSerialization.layerNdjson)
          )
        : RpcClient.layerProtocolSocket().pipe(
            Layer.provide(NodeSocket.layerWebSocket(`ws://${host}${AdminRoutes.websocketPath}`)),
            Layer.provide(RpcSerialization.layerJson)
          )
    // Built in the caller's scope: the WebSocket must outlive this function.
    const context = yield* Layer.build(Layer.merge(protocol, clientAuth(auth)))
    return yield* RpcClient.make(AdminRpcs.AdminRpcs).pipe(Effect.provide(context))
  })
