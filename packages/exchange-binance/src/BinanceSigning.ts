/**
 * Binance request signing (exchanges.md §1.7): HMAC-SHA256 over the query string, lowercase hex, appended as the
 * last parameter, with the API key in `X-MBX-APIKEY`. Credentials are read from environment variables whose
 * NAMES an exchange connection stores (never the secrets themselves), through `Config.redacted`.
 */
import { createHmac } from "node:crypto"
import { HttpClientRequest, UrlParams } from "@effect/platform"
import { ExchangeError } from "@livermore/exchange"
import { Config, Effect, Redacted } from "effect"

/** The header carrying the API key. */
export const apiKeyHeader = "X-MBX-APIKEY"

/** An API key and its secret, both redacted so neither reaches a log line. */
export interface Credentials {
  readonly apiKey: Redacted.Redacted<string>
  readonly secretKey: Redacted.Redacted<string>
}

/**
 * Where a connection's credentials live: the names of two environment variables (as `user_exchanges` stores
 * them), e.g. `{ apiKey: "BINANCE_API_KEY", apiSecret: "BINANCE_API_SECRET" }`.
 */
export interface CredentialVars {
  readonly apiKey: string
  readonly apiSecret: string
}

/**
 * Reads the credentials named by `vars` from the current `ConfigProvider` (the environment by default). A
 * missing or empty variable fails with `AuthError` naming the variable, never showing a value.
 */
export const loadCredentials = (exchange: string, vars: CredentialVars): Effect.Effect<Credentials, ExchangeError.AuthError> => {
  const read = (name: string) =>
    Config.redacted(name).pipe(
      Effect.mapError(
        () => new ExchangeError.AuthError({ exchange, reason: `environment variable ${name} is not set` })
      ),
      Effect.filterOrFail(
        (value) => Redacted.value(value).trim() !== "",
        () => new ExchangeError.AuthError({ exchange, reason: `environment variable ${name} is empty` })
      )
    )
  return Effect.map(Effect.all([read(vars.apiKey), read(vars.apiSecret)]), ([apiKey, secretKey]) => ({
    apiKey,
    secretKey
  }))
}

/** Lowercase hex HMAC-SHA256 of `payload` keyed by `secretKey`. */
export const signature = (secretKey: Redacted.Redacted<string>, payload: string): string =>
  createHmac("sha256", Redacted.value(secretKey)).update(payload, "utf8").digest("hex")

/**
 * The parameters of a signed request in wire order: the caller's, then `recvWindow` and `timestamp`, then
 * `signature` over everything before it. The signature covers exactly the string the HTTP client sends, because
 * both come from the same `URLSearchParams` serialisation.
 */
export const signedParams = (
  params: ReadonlyArray<readonly [string, string]>,
  options: { readonly secretKey: Redacted.Redacted<string>; readonly timestamp: number; readonly recvWindow: number }
): UrlParams.UrlParams => {
  const unsigned = UrlParams.fromInput([
    ...params,
    ["recvWindow", String(options.recvWindow)],
    ["timestamp", String(options.timestamp)]
  ])
  return UrlParams.append(unsigned, "signature", signature(options.secretKey, UrlParams.toString(unsigned)))
}

/** A signed GET of `url` (no query in it) with `params`, timestamped `timestamp` (ms). */
export const signedGet = (
  url: string,
  params: ReadonlyArray<readonly [string, string]>,
  options: { readonly credentials: Credentials; readonly timestamp: number; readonly recvWindow: number }
): HttpClientRequest.HttpClientRequest =>
  HttpClientRequest.get(url).pipe(
    HttpClientRequest.setUrlParams(
      signedParams(params, {
        secretKey: options.credentials.secretKey,
        timestamp: options.timestamp,
        recvWindow: options.recvWindow
      })
    ),
    HttpClientRequest.setHeader(apiKeyHeader, Redacted.value(options.credentials.apiKey))
  )
