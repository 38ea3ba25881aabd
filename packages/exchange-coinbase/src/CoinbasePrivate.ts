/**
 * Coinbase Advanced Trade private endpoints (exchanges.md §2.8): balances (`/accounts`), the fee tier
 * (`/transaction_summary`) and fills (`/orders/historical/fills`), each request carrying a fresh ES256 JWT.
 * Values are returned as Coinbase describes them (`CoinbaseMessages`), decoded with Schema.
 */
import { HttpClientRequest } from "@effect/platform"
import type { HttpClient } from "@effect/platform"
import type { Exchange } from "@livermore/domain"
import { ExchangeError, RestGovernor } from "@livermore/exchange"
import { Context, Duration, Clock, Effect, Layer, type Schema, type Scope } from "effect"
import * as CoinbaseAuth from "./CoinbaseAuth.js"
import * as Messages from "./CoinbaseMessages.js"
import * as Parse from "./CoinbaseParse.js"
import { apiPrefix } from "./CoinbaseRest.js"

/** Coinbase's private REST limit: 30 requests per second per user (exchanges.md §2.7). */
export const privateRequestsPerSecond = 30

/** Filters of `GET /orders/historical/fills`; times in ms since the epoch. */
export interface FillsQuery {
  readonly orderIds?: ReadonlyArray<string> | undefined
  readonly tradeIds?: ReadonlyArray<string> | undefined
  readonly productIds?: ReadonlyArray<string> | undefined
  /** Fills at or after this sequence time. */
  readonly start?: number | undefined
  /** Fills before this sequence time. */
  readonly end?: number | undefined
  /** Page size; Coinbase's default when left out. */
  readonly limit?: number | undefined
}

/** Filters of `GET /transaction_summary`. */
export interface SummaryQuery {
  readonly productType?: string | undefined
  readonly contractExpiryType?: string | undefined
  readonly productVenue?: string | undefined
}

/** The authenticated user's account on one Coinbase exchange row. */
export class CoinbasePrivate extends Context.Tag("@livermore/exchange-coinbase/CoinbasePrivate")<
  CoinbasePrivate,
  {
    /** Every account (one per currency), following `cursor` while `has_next`. */
    readonly accounts: Effect.Effect<ReadonlyArray<Messages.CoinbaseAccount>, ExchangeError.ExchangeError>
    /** Volume, fees and the fee tier (maker/taker rates). */
    readonly transactionSummary: (
      query?: SummaryQuery
    ) => Effect.Effect<Messages.CoinbaseTransactionSummary, ExchangeError.ExchangeError>
    /** Every fill matching `query`, following `cursor` until it comes back empty. */
    readonly fills: (query?: FillsQuery) => Effect.Effect<ReadonlyArray<Messages.CoinbaseFill>, ExchangeError.ExchangeError>
  }
>() {}

/** Cursor loops stop here even if a server keeps answering with new cursors. */
const maxPages = 1000

/** A client over loaded credentials, living as long as the scope (its governor does). */
export const make = (
  exchange: Exchange.Exchange,
  credentials: CoinbaseAuth.Credentials
): Effect.Effect<Context.Tag.Service<CoinbasePrivate>, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function* () {
    const name = exchange.name
    const base = exchange.restUrl.replace(/\/+$/, "")
    const governor = yield* RestGovernor.make({
      exchange: name,
      weightPerMinute: privateRequestsPerSecond * 60,
      maxConcurrency: 4
    })
    const spacingMs = (1000 / privateRequestsPerSecond) * 1.1
    let nextSlot = 0
    const pace = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const slot = Math.max(now, nextSlot)
      nextSlot = slot + spacingMs
      return slot > now ? Effect.sleep(Duration.millis(slot - now)) : Effect.void
    })

    const get = <A, I>(
      path: string,
      params: Record<string, string | ReadonlyArray<string>>,
      schema: Schema.Schema<A, I>
    ): Effect.Effect<A, ExchangeError.ExchangeError> =>
      Effect.gen(function* () {
        const url = `${base}${apiPrefix}${path}`
        const what = `GET ${apiPrefix}${path}`
        yield* pace
        // A fresh token per request: it lives 120 s and names this request's method and path.
        const token = yield* CoinbaseAuth.jwt(credentials, { method: "GET", url })
        const request = HttpClientRequest.get(url).pipe(
          HttpClientRequest.setUrlParams(params),
          HttpClientRequest.acceptJson,
          HttpClientRequest.bearerToken(token)
        )
        const response = yield* governor.execute(request, 1).pipe(
          Effect.mapError((error): ExchangeError.ExchangeError =>
            error._tag === "RequestFailed" && (error.status === 401 || error.status === 403)
              ? new ExchangeError.AuthError({
                  exchange: name,
                  reason: `${what} refused the credentials (HTTP ${error.status})`
                })
              : error
          )
        )
        const text = yield* response.text.pipe(
          Effect.mapError((cause) => new ExchangeError.RequestFailed({ exchange: name, request: what, cause }))
        )
        return yield* Parse.decodeJson(schema, name, what)(text)
      })

    const accounts = Effect.gen(function* () {
      const out: Array<Messages.CoinbaseAccount> = []
      let cursor: string | undefined
      for (let page = 0; page < maxPages; page++) {
        const result = yield* get(
          "/accounts",
          { limit: "250", ...(cursor === undefined ? {} : { cursor }) },
          Messages.CoinbaseAccountsPage
        )
        out.push(...result.accounts)
        if (!result.has_next || result.cursor === undefined || result.cursor === "" || result.cursor === cursor) break
        cursor = result.cursor
      }
      return out
    }).pipe(Effect.withSpan("CoinbasePrivate.accounts", { attributes: { exchange: name } }))

    const transactionSummary = Effect.fn("CoinbasePrivate.transactionSummary")(function* (query: SummaryQuery = {}) {
      return yield* get(
        "/transaction_summary",
        {
          ...(query.productType === undefined ? {} : { product_type: query.productType }),
          ...(query.contractExpiryType === undefined ? {} : { contract_expiry_type: query.contractExpiryType }),
          ...(query.productVenue === undefined ? {} : { product_venue: query.productVenue })
        },
        Messages.CoinbaseTransactionSummary
      )
    })

    const fills = Effect.fn("CoinbasePrivate.fills")(function* (query: FillsQuery = {}) {
      const filters: Record<string, string | ReadonlyArray<string>> = {
        ...(query.orderIds === undefined ? {} : { order_ids: query.orderIds }),
        ...(query.tradeIds === undefined ? {} : { trade_ids: query.tradeIds }),
        ...(query.productIds === undefined ? {} : { product_ids: query.productIds }),
        ...(query.start === undefined ? {} : { start_sequence_timestamp: new Date(query.start).toISOString() }),
        ...(query.end === undefined ? {} : { end_sequence_timestamp: new Date(query.end).toISOString() }),
        ...(query.limit === undefined ? {} : { limit: String(query.limit) })
      }
      const out: Array<Messages.CoinbaseFill> = []
      let cursor: string | undefined
      for (let page = 0; page < maxPages; page++) {
        const result = yield* get(
          "/orders/historical/fills",
          { ...filters, ...(cursor === undefined ? {} : { cursor }) },
          Messages.CoinbaseFillsPage
        )
        out.push(...result.fills)
        if (result.cursor === undefined || result.cursor === "" || result.cursor === cursor) break
        cursor = result.cursor
      }
      return out
    })

    return { accounts, transactionSummary, fills }
  })

/**
 * The private client for `exchange`, its credentials read from the environment variables `credentials` names
 * (the user's exchange row stores those names, never the secrets). A missing or malformed variable fails the
 * layer with an `AuthError` naming it.
 */
export const layer = (
  exchange: Exchange.Exchange,
  credentials: CoinbaseAuth.CredentialsConfig
): Layer.Layer<CoinbasePrivate, ExchangeError.AuthError, HttpClient.HttpClient> =>
  Layer.scoped(
    CoinbasePrivate,
    Effect.flatMap(CoinbaseAuth.loadCredentials(exchange.name, credentials), (loaded) => make(exchange, loaded))
  )
