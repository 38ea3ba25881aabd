/**
 * The REST governor of one exchange: every REST request goes through it, so the exchange's weight budget,
 * `Retry-After`, 429 back-off and 418 bans are respected by all callers together.
 */
import type { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { Effect, type Scope } from "effect"
import type { RestStats } from "./ExchangeAdapter.js"
import type { Banned, RateLimited, RequestFailed } from "./ExchangeError.js"

/** How an exchange meters REST use (from its `exchanges` row). */
export interface Options {
  readonly exchange: string
  /** Weight budget per minute (Binance REQUEST_WEIGHT; Coinbase: requests, each of weight 1). */
  readonly weightPerMinute: number
  /** Requests in flight at once. */
  readonly maxConcurrency: number
  /**
   * Response header carrying the weight the server has counted this minute (Binance `x-mbx-used-weight-1m`);
   * when present it corrects the local estimate.
   */
  readonly usedWeightHeader?: string | undefined
  /** Retries of one request after 429s before it fails with `RateLimited`. Default 3. */
  readonly maxRetries?: number | undefined
}

/** A governed HTTP client. */
export interface RestGovernor {
  /**
   * Send `request` once `weight` fits the budget. Resolves with a 2xx response. A 429 pauses every request of
   * this exchange for `Retry-After` and retries this one (up to `maxRetries`); a 418 opens a circuit until the
   * ban ends and fails with `Banned` — no retries, and every later request fails at once until then. Any other
   * status or a transport failure fails with `RequestFailed`.
   */
  readonly execute: (
    request: HttpClientRequest.HttpClientRequest,
    weight: number
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, RateLimited | Banned | RequestFailed>
  readonly stats: Effect.Effect<RestStats>
}

/** A governor over the `HttpClient` in context, living as long as the scope. */
export const make = (_options: Options): Effect.Effect<RestGovernor, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.dieMessage("RestGovernor.make: not implemented yet")
