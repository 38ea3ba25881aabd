/**
 * The public API of domain.md §8, as one `HttpApi` definition: the server, the OpenAPI 3.1 document and the
 * derived client all come from here.
 *
 * Query and path parameters are declared as strings and validated by the handlers (`PublicParams`): the
 * framework's own decode failure answers in its own shape, and every error here must be the envelope
 * `{ "error": { "code", "message" } }`. Their OpenAPI types are stated with `jsonSchema` annotations.
 */
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSecurity,
  OpenApi
} from "@effect/platform"
import { Context, Schema } from "effect"
import * as Dto from "./PublicDto.js"
import {
  BadRequestResponse,
  NotFoundResponse,
  RateLimitedResponse,
  UnauthorizedResponse,
  UnavailableResponse
} from "./PublicErrors.js"

/** The key that authenticated the request. */
export class ApiKeyOwner extends Context.Tag("@livermore/public-api/ApiKeyOwner")<
  ApiKeyOwner,
  { readonly keyId: number; readonly name: string }
>() {}

/** `X-API-Key` authentication and the per-key rate limit. */
export class ApiKeyAuth extends HttpApiMiddleware.Tag<ApiKeyAuth>()("ApiKeyAuth", {
  failure: Schema.Union(UnauthorizedResponse, RateLimitedResponse, UnavailableResponse),
  provides: ApiKeyOwner,
  security: {
    apiKey: HttpApiSecurity.apiKey({ in: "header", key: "X-API-Key" }).pipe(
      HttpApiSecurity.annotate(
        OpenApi.Description,
        "Your API key (a UUID) in the X-API-Key header. Each key may make 300 requests per minute across all " +
          "servers; every response carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset headers, and a " +
          "429 carries Retry-After (seconds)."
      )
    )
  }
}) {}

/** A query or path parameter: a string on the wire, typed for readers by `jsonSchema`. */
const param = (description: string, jsonSchema: object, example: string) =>
  Schema.transform(Schema.Union(Schema.String, Schema.Array(Schema.String)), Schema.String, {
    strict: true,
    // A parameter sent twice arrives as an array: joined, it fails the parameter's own check in the envelope.
    decode: (value) => (typeof value === "string" ? value : value.join(",")),
    encode: (value) => value
  }).annotations({ description, jsonSchema: { ...jsonSchema, description }, examples: [example] })

/** A path segment: always one string. */
const segment = (description: string, jsonSchema: object, example: string) =>
  Schema.String.annotations({ description, jsonSchema: { ...jsonSchema, description }, examples: [example] })

const exchangeName = param("Exchange name as listed by GET /public/v1/exchanges", { type: "string" }, "binance")
const symbolId = param("The exchange's product id as listed by the symbols endpoint", { type: "string" }, "BTCUSDT")
const exchangeSegment = segment("Exchange name as listed by GET /public/v1/exchanges", { type: "string" }, "binance")
const symbolSegment = segment("The exchange's product id as listed by the symbols endpoint", { type: "string" }, "BTCUSDT")
const timeframeSegment = segment("Candle interval", { type: "string", enum: ["5m", "15m", "1h", "4h", "1d"] }, "1h")
const timeframe = param(
  "Candle interval",
  { type: "string", enum: ["5m", "15m", "1h", "4h", "1d"] },
  "1h"
)
const cursor = param(
  "Opaque cursor from the previous page's meta.cursor; omit for the first page",
  { type: "string" },
  "eyJrIjoiYyIsImIiOjE3NjM3MzM2MDAwMDB9"
)
const limit = (max: number, fallback: number) =>
  param(
    `Most items to return, 1 to ${max} (default ${fallback})`,
    { type: "integer", minimum: 1, maximum: max, default: fallback },
    String(Math.min(fallback, max))
  )
const instant = (description: string) =>
  param(`${description} (ISO-8601, e.g. 2026-11-21T00:00:00Z)`, { type: "string", format: "date-time" }, "2026-11-21T00:00:00Z")

export const candleLimit = { max: 1000, fallback: 100 }
export const symbolLimit = { max: 1000, fallback: 100 }
export const alertLimit = { max: 500, fallback: 50 }

export const ExchangesGroup = HttpApiGroup.make("exchanges")
  .add(
    HttpApiEndpoint.get("listExchanges", "/exchanges")
      .addSuccess(Dto.ExchangeList)
      .annotate(OpenApi.Summary, "List exchanges and their live status")
      .annotate(
        OpenApi.Description,
        "Every exchange Livermore serves, with whether its live feed is running now. Use `name` in the other " +
          "paths. Not paginated: the list is short."
      )
  )
  .annotate(OpenApi.Description, "Exchanges and their live status")
  .middleware(ApiKeyAuth)

export const SymbolsGroup = HttpApiGroup.make("symbols")
  .add(
    HttpApiEndpoint.get("listSymbols", "/exchanges/:exchange/symbols")
      .setPath(Schema.Struct({ exchange: exchangeSegment }))
      .setUrlParams(
        Schema.Struct({
          grade: Schema.optional(
            param("Only symbols of this liquidity grade or better", { type: "string", enum: ["A", "B", "C", "D", "E"] }, "B")
          ),
          limit: Schema.optional(limit(symbolLimit.max, symbolLimit.fallback)),
          cursor: Schema.optional(cursor)
        })
      )
      .addSuccess(Dto.SymbolList)
      .annotate(OpenApi.Summary, "List an exchange's symbols with their liquidity grade")
      .annotate(
        OpenApi.Description,
        "Symbols followed on the exchange, most traded first, each with a liquidity grade from A (most liquid) " +
          "to E. Paginated: follow meta.cursor while meta.hasMore is true."
      )
  )
  .annotate(OpenApi.Description, "Symbols per exchange")
  .middleware(ApiKeyAuth)

export const CandlesGroup = HttpApiGroup.make("candles")
  .add(
    HttpApiEndpoint.get("listCandles", "/exchanges/:exchange/candles/:symbol/:timeframe")
      .setPath(Schema.Struct({ exchange: exchangeSegment, symbol: symbolSegment, timeframe: timeframeSegment }))
      .setUrlParams(
        Schema.Struct({
          from: Schema.optional(instant("Earliest candle open time to include")),
          to: Schema.optional(instant("Latest candle open time to include")),
          limit: Schema.optional(limit(candleLimit.max, candleLimit.fallback)),
          cursor: Schema.optional(cursor)
        })
      )
      .addSuccess(Dto.CandleList)
      .annotate(OpenApi.Summary, "OHLCV candles of a symbol")
      .annotate(
        OpenApi.Description,
        "Candles of one symbol and timeframe, oldest first within a page. Without a cursor the page holds the " +
          "most recent candles in [from, to]; meta.cursor then gives the page just before it, so following the " +
          "cursor walks back in time. The last candle may be forming (closed: false). Recent history only: " +
          "about the latest 500 candles per series are kept."
      )
  )
  .annotate(OpenApi.Description, "OHLCV candle history")
  .middleware(ApiKeyAuth)

export const SignalsGroup = HttpApiGroup.make("signals")
  .add(
    HttpApiEndpoint.get("listSignals", "/exchanges/:exchange/signals/:symbol")
      .setPath(Schema.Struct({ exchange: exchangeSegment, symbol: symbolSegment }))
      .setUrlParams(Schema.Struct({ timeframe: Schema.optional(timeframe) }))
      .addSuccess(Dto.SignalList)
      .annotate(OpenApi.Summary, "Generic trade signals of a symbol")
      .annotate(
        OpenApi.Description,
        "For each timeframe (or the one asked for): a momentum reading and a trend reading, each a direction " +
          "(bullish, bearish, neutral) and a strength (weak to extreme), updated on every closed candle. Check " +
          "`quality` before acting: only `live` readings are current and backed by enough history."
      )
  )
  .annotate(OpenApi.Description, "Generic trade signals")
  .middleware(ApiKeyAuth)

export const AlertsGroup = HttpApiGroup.make("alerts")
  .add(
    HttpApiEndpoint.get("listAlerts", "/alerts")
      .setUrlParams(
        Schema.Struct({
          exchange: Schema.optional(exchangeName),
          symbol: Schema.optional(symbolId),
          timeframe: Schema.optional(timeframe),
          signalType: Schema.optional(
            param("Only alerts of this type", { type: "string", enum: ["momentum_threshold", "momentum_reversal"] }, "momentum_reversal")
          ),
          direction: Schema.optional(
            param("Only alerts pointing this way", { type: "string", enum: ["bullish", "bearish"] }, "bullish")
          ),
          from: Schema.optional(instant("Earliest firing time to include")),
          to: Schema.optional(instant("Latest firing time to include")),
          limit: Schema.optional(limit(alertLimit.max, alertLimit.fallback)),
          cursor: Schema.optional(cursor)
        })
      )
      .addSuccess(Dto.AlertList)
      .annotate(OpenApi.Summary, "Alert history")
      .annotate(
        OpenApi.Description,
        "Alerts fired on any exchange, newest first, filtered by any combination of exchange, symbol, " +
          "timeframe, type, direction and firing time. Paginated: follow meta.cursor while meta.hasMore is true. " +
          "Recent history only (the latest 50,000 alerts). For alerts as they happen, subscribe to the stream."
      )
  )
  .annotate(OpenApi.Description, "Alert history")
  .middleware(ApiKeyAuth)

/**
 * The framework lists its own decode error (`HttpApiDecodeError`) under every 400. Parameters here are strings
 * that cannot fail to decode, so that shape is never sent: remove it so the document promises only the envelope.
 */
const badRequestDescription = "The request is malformed; the message names the parameter and what it accepts."

const withoutFrameworkDecodeError = (spec: Record<string, unknown>): Record<string, unknown> => {
  const text = JSON.stringify(spec)
  const cleaned = JSON.parse(text, (_key, value: unknown) => {
    if (value !== null && typeof value === "object" && "anyOf" in value && Array.isArray(value.anyOf)) {
      const kept = value.anyOf.filter(
        (entry: unknown) =>
          !(entry !== null && typeof entry === "object" && "$ref" in entry && entry.$ref === "#/components/schemas/HttpApiDecodeError")
      )
      if (kept.length === 1) {
        const { anyOf: _dropped, ...rest } = value
        return { ...rest, ...kept[0] }
      }
      return { ...value, anyOf: kept }
    }
    return value
  }) as Record<string, unknown>
  const paths = cleaned.paths as Record<string, Record<string, { responses?: Record<string, { description?: string }> }>>
  for (const operations of Object.values(paths ?? {})) {
    for (const operation of Object.values(operations)) {
      const badRequest = operation.responses?.["400"]
      if (badRequest !== undefined) badRequest.description = badRequestDescription
    }
  }
  const components = cleaned.components as { schemas?: Record<string, unknown> } | undefined
  if (components?.schemas !== undefined) {
    delete components.schemas.HttpApiDecodeError
    delete components.schemas.Issue
    delete components.schemas.PropertyKey
  }
  return cleaned
}

/** The whole public API. */
export class PublicApi extends HttpApi.make("public")
  .add(ExchangesGroup)
  .add(SymbolsGroup)
  .add(CandlesGroup)
  .add(SignalsGroup)
  .add(AlertsGroup)
  .addError(BadRequestResponse)
  .addError(NotFoundResponse)
  .addError(UnavailableResponse)
  .prefix("/public/v1")
  .annotateContext(
    OpenApi.annotations({
      title: "Livermore public API",
      version: "1.0.0",
      description:
        "Read-only crypto market data from Livermore: exchanges and their live status, symbols with liquidity " +
        "grades, OHLCV candles, generic trade signals and alert history. Every request needs an X-API-Key " +
        "header. Successful responses are `{ data, meta: { cursor, hasMore, count } }`; errors are " +
        "`{ error: { code, message } }` with codes bad_request (400), unauthorized (401), not_found (404), " +
        "rate_limited (429) and unavailable (503). Timestamps are ISO-8601 UTC. Live updates: the WebSocket " +
        "stream at /public/v1/stream, described by the AsyncAPI document at /public/v1/asyncapi.json.",
      transform: (spec) => withoutFrameworkDecodeError(spec)
    })
  ) {}
