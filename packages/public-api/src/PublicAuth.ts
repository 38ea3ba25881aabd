/**
 * The `ApiKeyAuth` middleware: authenticate the `X-API-Key`, then charge the request to the key's budget.
 * Every authenticated answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds);
 * a refused one `Retry-After` too. Error bodies cannot carry headers, so they are set by a pre-response handler.
 */
import { RateLimiter } from "@effect/experimental"
import { HttpApp, HttpServerResponse } from "@effect/platform"
import { Duration, Effect, Layer, Redacted } from "effect"
import { ApiKeyVerifier } from "./ApiKeys.js"
import { ApiKeyAuth } from "./PublicApi.js"
import { PublicApiConfig } from "./PublicApiConfig.js"
import { RateLimited, Unavailable } from "./PublicErrors.js"

const seconds = (duration: Duration.Duration): number => Math.max(0, Math.ceil(Duration.toSeconds(duration)))

const setHeaders = (headers: Record<string, string>) =>
  HttpApp.appendPreResponseHandler((_request, response) => Effect.succeed(HttpServerResponse.setHeaders(response, headers)))

/** The budget of one key: charge one request, or fail `RateLimited` with the headers set. */
export const charge = (limiter: RateLimiter.RateLimiter, keyId: number, limit: number) =>
  limiter.consume({ key: `key:${keyId}`, limit, window: Duration.millis(Math.ceil(60_000 / limit) * limit), algorithm: "fixed-window", onExceeded: "fail" }).pipe(
    Effect.tap((result) =>
      setHeaders({
        "ratelimit-limit": String(limit),
        "ratelimit-remaining": String(result.remaining),
        "ratelimit-reset": String(seconds(result.resetAfter))
      })
    ),
    Effect.catchTag("RateLimiterError", (error): Effect.Effect<never, RateLimited | Unavailable> =>
      error.reason === "Exceeded"
        ? setHeaders({
            "retry-after": String(Math.max(1, seconds(error.retryAfter))),
            "ratelimit-limit": String(limit),
            "ratelimit-remaining": "0",
            "ratelimit-reset": String(Math.max(1, seconds(error.retryAfter)))
          }).pipe(
            Effect.zipRight(
              Effect.fail(
                new RateLimited({
                  message: `Rate limit of ${limit} requests per minute exceeded; retry in ${Math.max(1, seconds(error.retryAfter))} s`
                })
              )
            )
          )
        : Effect.logWarning("Public API: the rate limiter's store failed", String(error)).pipe(
            Effect.zipRight(Effect.fail(new Unavailable({ message: "The service is temporarily unavailable; retry shortly" })))
          )
    )
  )

export const layer = Layer.effect(
  ApiKeyAuth,
  Effect.gen(function* () {
    const verifier = yield* ApiKeyVerifier
    const limiter = yield* RateLimiter.RateLimiter
    const { requestsPerMinute } = yield* PublicApiConfig
    return ApiKeyAuth.of({
      apiKey: (key) =>
        Effect.flatMap(verifier.verify(Redacted.value(key)), (owner) =>
          Effect.as(charge(limiter, owner.keyId, requestsPerMinute), owner)
        )
    })
  })
)
