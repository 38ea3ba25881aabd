/**
 * Signed (private) Binance endpoints of one user connection: balances and commission rates (`GET /api/v3/account`)
 * and the user's trades (`GET /api/v3/myTrades`, `fromId` pagination). Requests share the exchange's REST
 * governor with market data, because Binance meters weight per IP, not per key.
 */
import type { Exchange, Market } from "@livermore/domain"
import { ExchangeError } from "@livermore/exchange"
import { Context, Effect, Layer, Option, type Schema } from "effect"
import { BinanceConfig } from "./BinanceConfig.js"
import * as BinanceMessages from "./BinanceMessages.js"
import { baseUrl, errorBodyOf, Governor, makeServerClock, type ServerClock, send } from "./BinanceRest.js"
import * as BinanceSigning from "./BinanceSigning.js"

/** One asset balance. */
export interface Balance {
  readonly asset: string
  readonly free: number
  readonly locked: number
}

/** What `account` reports. */
export interface AccountInfo {
  /** Balances with a non-zero free or locked amount. */
  readonly balances: ReadonlyArray<Balance>
  /** Maker and taker commission as fractions (0.001 = 0.1 %), where the venue reports them (binance.com). */
  readonly commission: Option.Option<{ readonly maker: number; readonly taker: number }>
}

/** One of the user's trades. */
export interface Trade {
  readonly symbol: Market.SymbolId
  /** Trade id: ascending, the `fromId` cursor. */
  readonly id: number
  readonly orderId: number
  readonly price: number
  readonly quantity: number
  readonly quoteQuantity: number
  readonly commission: number
  readonly commissionAsset: string
  /** ms since the epoch. */
  readonly time: number
  readonly isBuyer: boolean
  readonly isMaker: boolean
}

/** A user's private Binance data. */
export class BinanceAccount extends Context.Tag("@livermore/exchange-binance/BinanceAccount")<
  BinanceAccount,
  {
    /** Non-zero balances and commission rates (weight 20 on binance.com). */
    readonly account: Effect.Effect<AccountInfo, ExchangeError.ExchangeError>
    /**
     * Every trade of `symbol` with id ≥ `fromId` (default 0: all of them), oldest first, fetched 1000 at a time
     * (weight 20 per page on binance.com).
     */
    readonly myTrades: (
      symbol: Market.SymbolId,
      options?: { readonly fromId?: number | undefined }
    ) => Effect.Effect<ReadonlyArray<Trade>, ExchangeError.ExchangeError>
  }
>() {}

/** Most trades `myTrades` returns per request. */
const TRADES_PER_PAGE = 1000

const authCodes: ReadonlySet<number> = new Set<number>([
  BinanceMessages.ErrorCode.InvalidSignature,
  BinanceMessages.ErrorCode.BadApiKeyFormat,
  BinanceMessages.ErrorCode.RejectedMbxKey,
  BinanceMessages.ErrorCode.InvalidTimestamp
])

/** Refusals of the key, signature or timestamp (401, or 400 with -1021/-1022/-2014/-2015) become `AuthError`. */
const authFailures =
  (exchange: string) =>
  <A>(effect: Effect.Effect<A, ExchangeError.ExchangeError>): Effect.Effect<A, ExchangeError.ExchangeError> =>
    Effect.catchTag(effect, "RequestFailed", (e) =>
      Effect.flatMap(errorBodyOf(e), (body): Effect.Effect<never, ExchangeError.ExchangeError> => {
        if (Option.isSome(body) && authCodes.has(body.value.code)) {
          return Effect.fail(new ExchangeError.AuthError({ exchange, reason: `${body.value.code} ${body.value.msg}` }))
        }
        if (e.status === 401) return Effect.fail(new ExchangeError.AuthError({ exchange, reason: "HTTP 401" }))
        return Effect.fail(e)
      })
    )

const isTimestampRefusal = (error: ExchangeError.ExchangeError): boolean =>
  error._tag === "AuthError" && error.reason.startsWith(`${BinanceMessages.ErrorCode.InvalidTimestamp} `)

/** The private endpoints of `exchange` with `credentials`, over `governor`. */
export const make = (options: {
  readonly exchange: Exchange.Exchange
  readonly governor: Context.Tag.Service<Governor>
  readonly credentials: BinanceSigning.Credentials
  /** The exchange's clock: signed requests are stamped in its time (`-1021` otherwise). */
  readonly clock: ServerClock
  readonly recvWindow: number
  readonly weights: { readonly account: number; readonly myTrades: number }
}): Context.Tag.Service<BinanceAccount> => {
  const { exchange, governor, credentials, clock, recvWindow, weights } = options
  const name = exchange.name
  const base = baseUrl(exchange.restUrl)

  /**
   * A signed GET, stamped in server time. A timestamp refusal (-1021) means the clock offset went stale: it is
   * measured again and the request re-signed once.
   */
  const signedSend = <A, I>(
    path: string,
    params: ReadonlyArray<readonly [string, string]>,
    weight: number,
    schema: Schema.Schema<A, I>
  ): Effect.Effect<A, ExchangeError.ExchangeError> => {
    const attempt = clock.now.pipe(
      Effect.map((timestamp) => BinanceSigning.signedGet(`${base}${path}`, params, { credentials, timestamp, recvWindow })),
      Effect.flatMap((request) => send(governor, name, `GET ${path}`, request, weight, schema)),
      authFailures(name)
    )
    return attempt.pipe(
      Effect.catchIf(isTimestampRefusal, () => Effect.zipRight(clock.resync, attempt))
    )
  }

  const account = signedSend("/api/v3/account", [], weights.account, BinanceMessages.Account).pipe(
    Effect.map(
      (body): AccountInfo => ({
        balances: body.balances
          .filter((b) => b.free !== 0 || b.locked !== 0)
          .map((b) => ({ asset: b.asset, free: b.free, locked: b.locked })),
        commission: Option.fromNullable(body.commissionRates).pipe(
          Option.map((rates) => ({ maker: rates.maker, taker: rates.taker }))
        )
      })
    ),
    Effect.withSpan("BinanceAccount.account", { attributes: { exchange: name } })
  )

  const myTrades = Effect.fn("BinanceAccount.myTrades")(function* (
    symbol: Market.SymbolId,
    opts?: { readonly fromId?: number | undefined }
  ) {
    const trades: Array<Trade> = []
    let fromId = opts?.fromId ?? 0
    for (;;) {
      const rows = yield* signedSend(
        "/api/v3/myTrades",
        [
          ["symbol", symbol],
          ["fromId", String(fromId)],
          ["limit", String(TRADES_PER_PAGE)]
        ],
        weights.myTrades,
        BinanceMessages.MyTrades
      )
      for (const row of rows) {
        if (row.id < fromId) continue
        trades.push({
          // Rows are of the requested symbol; its id is already a valid SymbolId.
          symbol,
          id: row.id,
          orderId: row.orderId,
          price: row.price,
          quantity: row.qty,
          quoteQuantity: row.quoteQty,
          commission: row.commission,
          commissionAsset: row.commissionAsset,
          time: row.time,
          isBuyer: row.isBuyer,
          isMaker: row.isMaker
        })
      }
      const last = rows[rows.length - 1]
      // A short page is the end; a page that does not advance the cursor must not be asked for again.
      if (rows.length < TRADES_PER_PAGE || last === undefined || last.id < fromId) return trades
      fromId = last.id + 1
    }
  })

  return BinanceAccount.of({
    account: Effect.annotateLogs(account, { exchange: name }),
    myTrades: (symbol, opts) => myTrades(symbol, opts).pipe(Effect.annotateLogs({ exchange: name, symbol }))
  })
}

/**
 * The private endpoints of `exchange` for the connection whose credentials are in the environment variables
 * named by `vars`. Fails with `AuthError` naming a missing variable. Needs the exchange's `Governor`
 * (`BinanceRest.layerGovernor`), shared with the market-data adapter.
 */
export const layer = (
  exchange: Exchange.Exchange,
  vars: BinanceSigning.CredentialVars
): Layer.Layer<BinanceAccount, ExchangeError.AuthError, Governor> =>
  Layer.effect(
    BinanceAccount,
    Effect.gen(function* () {
      const governor = yield* Governor
      const settings = yield* BinanceConfig
      const credentials = yield* BinanceSigning.loadCredentials(exchange.name, vars)
      const clock = yield* makeServerClock({ exchange, governor, settings })
      return make({ exchange, governor, credentials, clock, recvWindow: settings.recvWindow, weights: settings.weights })
    })
  )
