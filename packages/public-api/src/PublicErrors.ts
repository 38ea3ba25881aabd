/**
 * Errors of the public API. On the wire every one is `{ "error": { "code", "message" } }` (domain.md §8): a
 * stable machine code, a sentence for a human or an agent, never a stack or an internal detail.
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

/** The body of every error response. */
const body = <Code extends string>(code: Code, example: string) =>
  Schema.Struct({
    error: Schema.Struct({
      code: Schema.Literal(code).annotations({ description: "Stable machine-readable error code" }),
      message: Schema.String.annotations({ description: "What went wrong and how to fix the request" })
    })
  }).annotations({ examples: [{ error: { code, message: example } }] })

/**
 * An error class whose wire form is the envelope: the class is what handlers fail with, the transform is what
 * the API declares (so the OpenAPI document and the derived client see the envelope).
 */
const envelope = <Self extends { readonly message: string }, Tag extends string, Code extends string>(
  error: Schema.Schema<Self, { readonly _tag: Tag; readonly message: string }>,
  tag: Tag,
  code: Code,
  status: number,
  identifier: string,
  description: string,
  example: string
) =>
  Schema.transform(body(code, example), error, {
    strict: true,
    decode: (wire) => ({ _tag: tag, message: wire.error.message }),
    encode: (value) => ({ error: { code, message: value.message } })
  }).annotations({
    identifier,
    description,
    ...HttpApiSchema.annotations({ status })
  })

/** The request is malformed: a bad parameter, cursor or range. */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", { message: Schema.String }) {}
export const BadRequestResponse = envelope(
  BadRequest,
  "BadRequest",
  "bad_request",
  400,
  "BadRequestError",
  "The request is malformed; the message names the parameter and what it accepts.",
  "limit must be an integer from 1 to 1000, got \"5000\""
)

/** No key, an unknown key or a revoked key. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", { message: Schema.String }) {}
export const UnauthorizedResponse = envelope(
  Unauthorized,
  "Unauthorized",
  "unauthorized",
  401,
  "UnauthorizedError",
  "The X-API-Key header is missing, is not a key, or names an unknown or revoked key.",
  "X-API-Key header required"
)

/** An exchange, symbol or route that does not exist. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { message: Schema.String }) {}
export const NotFoundResponse = envelope(
  NotFound,
  "NotFound",
  "not_found",
  404,
  "NotFoundError",
  "The exchange or symbol named in the path is not served.",
  "No exchange named \"krakken\"; GET /public/v1/exchanges lists them"
)

/** Over the key's request budget. `Retry-After` and `RateLimit-*` headers say when to come back. */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", { message: Schema.String }) {}
export const RateLimitedResponse = envelope(
  RateLimited,
  "RateLimited",
  "rate_limited",
  429,
  "RateLimitedError",
  "The key used its requests for the current minute; wait the seconds given in the Retry-After header.",
  "Rate limit of 300 requests per minute exceeded; retry in 42 s"
)

/** A backend the answer depends on is unreachable. Nothing about it is revealed. */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", { message: Schema.String }) {}
export const UnavailableResponse = envelope(
  Unavailable,
  "Unavailable",
  "unavailable",
  503,
  "UnavailableError",
  "The service cannot answer right now; retry with back-off.",
  "The market data store is temporarily unavailable; retry shortly"
)

/** The wire body of an error, for responses built outside the HttpApi (404 routes, the stream's upgrade). */
export const errorBody = (code: string, message: string) => ({ error: { code, message } })
