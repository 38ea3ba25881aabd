/**
 * The `ApiKeyAuth` middleware: authenticate the `X-API-Key`, then charge the request to the key's budget.
 * Every authenticated answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds);
 * a refused one `Retry-After` too. Error bodies cannot carry headers, so they are set by a pre-response handler.
 */
import { HttpApp, HttpServerResponse } from "@effect/platform"
import { type Context, Effect, Layer, Redacted } from "effect"
import { ApiKeyVerifier } from "./ApiKeys.js"
import { ApiKeyAuth } from "./PublicApi.js"
import { PublicApiConfig } from "./PublicApiConfig.js"
import { RateLimited, Unavailable } from "./PublicErrors.js"
import { PublicRateLimit } from "./PublicRateLimit.js"

const setHeaders = (headers: Record<string, string>) =>
  HttpApp.appendPreResponseHandler((_request, response) => Effect.succeed(HttpServerResponse.setHeaders(response, headers)))

/** The budget of one key: charge one request, or fail `RateLimited` with the headers set. */
export const charge = (limiter: Context.Tag.Service<PublicRateLimit>, keyId: number, limit: number) =>
  limiter.consume(keyId, limit).pipe(
    Effect.catchTag("RateLimitStoreError", (error) =>
      Effect.logWarning("Public API: the rate limiter's store failed", error.message).pipe(
        Effect.zipRight(Effect.fail(new Unavailable({ message: "The service is temporarily unavailable; retry shortly" })))
      )
    ),
    Effect.flatMap((result): Effect.Effect<void, RateLimited> => {
      const reset = String(Math.max(1, Math.ceil(result.resetAfterMs / 1000)))
      if (result.allowed) {
        return setHeaders({
          "ratelimit-limit": String(limit),
          "ratelimit-remaining": String(result.remaining),
          "ratelimit-reset": String(Math.max(0, Math.ceil(result.resetAfterMs / 1000)))
        })
      }
      return setHeaders({
        "retry-after": reset,
        "ratelimit-limit": String(limit),
        "ratelimit-remaining": "0",
        "ratelimit-reset": reset
      }).pipe(
        Effect.zipRight(
          Effect.fail(new RateLimited({ message: `Rate limit of ${limit} requests per minute exceeded; retry in ${reset} s` }))
        )
      )
    })
  )

export const layer = Layer.effect(
  ApiKeyAuth,
  Effect.gen(function* () {
    const verifier = yield* ApiKeyVerifier
    const limiter = yield* PublicRateLimit
    const { requestsPerMinute } = yield* PublicApiConfig
    return ApiKeyAuth.of({
      apiKey: (key) =>
        Effect.gen(function* () {
          const owner = yield* verifier.verify(Redacted.value(key))
          yield* charge(limiter, owner.keyId, requestsPerMinute)
          return owner
        })
    })
  })
)
