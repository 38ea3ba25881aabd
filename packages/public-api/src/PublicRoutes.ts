/**
 * The public API on an `HttpLayerRouter`: the REST endpoints, `/public/v1/openapi.json`, the interactive docs
 * page `/public/v1/docs`, CORS for the configured origins, and the envelope for paths that do not exist.
 * The stream (`PublicStream`) is added beside it by the application.
 */
import { HttpApiScalar, HttpLayerRouter, HttpServerError, HttpServerResponse } from "@effect/platform"
import { Effect, Layer } from "effect"
import { PublicApi } from "./PublicApi.js"
import { PublicApiConfig } from "./PublicApiConfig.js"
import * as PublicAuth from "./PublicAuth.js"
import { errorBody } from "./PublicErrors.js"
import * as PublicHandlers from "./PublicHandlers.js"

export const openApiPath = "/public/v1/openapi.json"
export const docsPath = "/public/v1/docs"

/**
 * Anything under `/public/v1` that no route serves: 404 in the envelope, listing where to look. Every method but
 * HEAD: the router answers a HEAD with the GET route of its path only when no HEAD route matches, and a catch-all
 * HEAD route would match first. A HEAD nothing serves reaches `Unroutable` instead.
 */
const NotFoundRoute = Layer.mergeAll(
  Layer.empty,
  ...(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const).map((method) =>
    HttpLayerRouter.add(
      method,
      "/public/v1/*",
      HttpServerResponse.json(
        errorBody("not_found", `No such endpoint; the endpoints are listed in ${openApiPath} (docs at ${docsPath})`),
        { status: 404 }
      ).pipe(Effect.orDie)
    )
  )
)

/**
 * What the router itself cannot route (a path parameter over its 100-character limit, a malformed %-escape,
 * `/public/v1` itself) never reaches `NotFoundRoute`: answer those under `/public/v1` with the envelope too.
 */
const Unroutable = HttpLayerRouter.middleware(
  (app) =>
    Effect.catchAll(app, (error: unknown) =>
      error instanceof HttpServerError.RouteNotFound && error.request.url.startsWith("/public/v1")
        ? HttpServerResponse.json(
            errorBody("not_found", `No such endpoint; the endpoints are listed in ${openApiPath} (docs at ${docsPath})`),
            { status: 404 }
          ).pipe(Effect.orDie)
        : Effect.fail(error)
    ),
  { global: true }
)

/** CORS for `PublicApiConfig.corsOrigins`; none configured: no CORS headers, browsers keep to same-origin. */
const Cors = Layer.unwrapEffect(
  Effect.map(PublicApiConfig, ({ corsOrigins }) => {
    if (corsOrigins.length === 0) return Layer.empty
    const allowed = new Set(corsOrigins)
    return HttpLayerRouter.cors({
      allowedOrigins: allowed.has("*") ? [] : (origin: string) => allowed.has(origin),
      allowedMethods: ["GET", "OPTIONS"],
      allowedHeaders: ["x-api-key", "content-type"],
      exposedHeaders: ["retry-after", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"],
      maxAge: 600
    })
  })
)

/** Every REST route of the public API. Needs the cache services, the catalog, the verifier and the limiter. */
export const layer = Layer.mergeAll(
  HttpLayerRouter.addHttpApi(PublicApi, { openapiPath: openApiPath }).pipe(
    Layer.provide(PublicHandlers.layer),
    Layer.provide(PublicAuth.layer)
  ),
  HttpApiScalar.layerHttpLayerRouter({ api: PublicApi, path: docsPath }),
  NotFoundRoute,
  Unroutable,
  Cors
)
