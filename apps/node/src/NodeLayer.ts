/**
 * A whole node as one layer: storage (migrated), the exchange part when the settings name an exchange, and the HTTP
 * server with `/health` and `/metrics`. `start` launches it; `demo` launches it next to a simulator.
 */
import { FetchHttpClient, HttpLayerRouter, HttpServer } from "@effect/platform"
import { AdminRoutes, AdminVerifier, ExchangeCatalog } from "@livermore/admin-rpc"
import type { CacheServices } from "@livermore/cache"
import { NodeIdentity } from "@livermore/engine"
import { Migrations, Repositories } from "@livermore/store"
import {
  ApiKeys,
  AsyncApi,
  PublicApiConfig,
  PublicCatalogSync,
  PublicRateLimit,
  PublicRoutes,
  PublicStream
} from "@livermore/public-api"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import * as Adapters from "./Adapters.js"
import * as AdminWeb from "./AdminWeb.js"
import * as ExchangeNode from "./ExchangeNode.js"
import * as NodeHttp from "./HttpServer.js"
import type * as NodeSettings from "./NodeSettings.js"
import * as NodeStatus from "./NodeStatus.js"
import * as Prometheus from "./Prometheus.js"
import * as Storage from "./Storage.js"

export const sqlDirectory = Migrations.repoSqlDirectory()

/** Logs the address once the server listens, and (released first) that shutdown has begun. */
const AnnounceListening = (settings: NodeSettings.NodeSettings) =>
  Layer.scopedDiscard(
  Effect.gen(function* () {
    yield* HttpServer.addressFormattedWith((address) =>
      Effect.logInfo(
        `Listening on ${address}; ` +
          (Option.isNone(settings.exchange)
            ? "serving no exchange"
            : settings.autostart
              ? `starting ${settings.exchange.value}`
              : `state idle: serving no exchange until told to start`)
      )
    )
    yield* Effect.addFinalizer(() => Effect.logInfo("Stopping: closing the server, cache and database"))
  })
  )

/** Logged last on a clean shutdown, after every other resource has been released. */
const AnnounceStopped = Layer.scopedDiscard(
  Effect.addFinalizer((exit) =>
    Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause) ? Effect.logInfo("Stopped cleanly") : Effect.void
  )
)

/**
 * The node for `settings` over the storage `choice` selects. `companion` runs beside it over the same storage and
 * exchange services (the demo's printer); it is started after them and stopped before them.
 */
export const make = <E = never>(
  settings: NodeSettings.NodeSettings,
  choice: Storage.StorageChoice,
  options: ExchangeNode.LayerOptions = {},
  companion: Layer.Layer<never, E, CacheServices.Services | Repositories.Repositories> = Layer.empty
) => {
    const storage = Layer.provideMerge(
      Migrations.layer({ directory: sqlDirectory }),
      Storage.layer(choice).pipe(Layer.tap(() => Effect.logInfo("Storage connected; applying migrations")))
    )
    const exchange = Option.match(settings.exchange, {
      onNone: () => Layer.empty,
      onSome: (name) =>
        ExchangeNode.layer(settings, name, options).pipe(
          Layer.provide(NodeIdentity.layerConfig),
          Layer.provide(Layer.mergeAll(Repositories.layer, FetchHttpClient.layer))
        )
    })
    const routes = Layer.mergeAll(NodeHttp.HealthRoute, Prometheus.MetricsRoute, publicApi(settings, choice))
    if (settings.mode === "pw-host") {
      // No database, so no admin RPC: admins use a node that holds the database.
      // Redis only: no database, no adapter, no warmup, no indicators (domain.md §9).
      return HttpLayerRouter.serve(routes, { disableListenLog: true, disableLogger: true }).pipe(
        Layer.provide(NodeStatus.layer(settings.mode)),
        Layer.merge(AnnounceListening(settings)),
        Layer.provide(NodeHttp.layerNode),
        Layer.provide(streamHub(settings)),
        Layer.provide(Storage.cacheOnlyLayer(choice)),
        Layer.provide(AnnounceStopped)
      )
    }
    const server = HttpLayerRouter.serve(Layer.merge(routes, adminRpc(options.patchRow)), { disableListenLog: true, disableLogger: true }).pipe(
      Layer.provide(NodeStatus.layer(settings.mode)),
      Layer.merge(AnnounceListening(settings)),
      Layer.provide(NodeHttp.layerNode),
      Layer.provide(streamHub(settings)),
      Layer.merge(companion.pipe(Layer.provide(Repositories.layer))),
      Layer.provideMerge(exchange),
      Layer.provide(catalogSync),
      Layer.provide(storage),
      Layer.provide(AnnounceStopped)
    )
  return server
}

/** The public API's routes when the settings serve it: auth over the catalog, limits on Redis (or in memory). */
const publicApi = (settings: NodeSettings.NodeSettings, choice: Storage.StorageChoice) =>
  settings.servePublicApi
    ? Layer.mergeAll(PublicRoutes.layer, PublicStream.route, AsyncApi.route).pipe(
        Layer.provide(ApiKeys.layer),
        Layer.provide(Option.isSome(choice.redisUrl) ? PublicRateLimit.layerRedisConfig : PublicRateLimit.layerMemory),
        Layer.provide(PublicApiConfig.layerConfig)
      )
    : Layer.empty

/**
 * The admin RPC (`/admin/rpc`, `/admin/rpc/ws`) and the web UI (`/admin`) on every node that holds the database:
 * local admin tokens, and OIDC tokens when `ADMIN_OIDC_JWKS_URL` and `ADMIN_OIDC_ISSUER` are set.
 */
const adminRpc = (patchRow: ExchangeNode.LayerOptions["patchRow"]) =>
  Layer.merge(
    AdminRoutes.layer.pipe(
      Layer.provide(AdminVerifier.layerConfig),
      // Watchlist symbols are checked against the exchange's public REST listing, with the adapter an instance
      // uses, on the row as this node's exchange part sees it (the demo points `sim_binance` at its simulator).
      Layer.provide(
        ExchangeCatalog.layer({
          adapterFor: (row) =>
            Adapters.layerFor(patchRow === undefined ? row : patchRow(row)).pipe(Layer.provide(FetchHttpClient.layer))
        })
      ),
      Layer.provide(Repositories.layer)
    ),
    AdminWeb.route
  )

/**
 * The stream's hub, built before the server listens: its Redis subscriptions take a moment, and a request that
 * arrived while the routes were still being built would wait unanswered. Off (no subscriptions) when the node
 * does not serve the public API.
 */
const streamHub = (settings: NodeSettings.NodeSettings) =>
  settings.servePublicApi ? PublicStream.layerHub : PublicStream.layerHubOff

/** Projects the database into the public catalog before anything serves (pw-host nodes read only that). */
const catalogSync = Layer.effectDiscard(
  PublicCatalogSync.syncAll().pipe(
    Effect.tap(({ exchanges, keys }) =>
      Effect.logInfo(`Public catalog projected: ${exchanges} exchanges, ${keys} active API keys`)
    )
  )
).pipe(Layer.provide(Repositories.layer))
