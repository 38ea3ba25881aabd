/** What every admin handler module shares: how storage failures and unknown exchange names reach the caller. */
import type { ExchangeSymbolsRepo, ExchangesRepo } from "@livermore/store"
import { type Context, Effect, Option } from "effect"
import { AdminNotFound, AdminRequestFailed } from "../AdminRpcs.js"

/** Log a storage failure and answer `AdminRequestFailed` saying what failed. */
export const failed = (what: string) => (cause: { readonly message: string }) =>
  Effect.zipRight(
    Effect.logWarning(`admin rpc: ${what} failed`, cause),
    Effect.fail(new AdminRequestFailed({ message: `${what} failed: ${cause.message}` }))
  )

/** The exchange named `name`, or `AdminNotFound`. */
export const exchangeNamed = (exchanges: Context.Tag.Service<ExchangesRepo.ExchangesRepo>, name: string) =>
  exchanges.byName(name).pipe(
    Effect.catchTags({
      UnknownExchange: () =>
        Effect.fail(new AdminNotFound({ entity: "exchange", key: name, message: `No exchange named ${name}` })),
      ExchangeNotSupported: () =>
        Effect.fail(new AdminNotFound({ entity: "exchange", key: name, message: `${name} has no adapter` }))
    })
  )

/** The fields of a symbol-universe row as the admin sees them (`SymbolView`). */
export const symbolViewFields = (row: ExchangeSymbolsRepo.ExchangeSymbol) => ({
  symbol: row.symbol,
  baseAsset: row.baseAsset,
  quoteAsset: row.quoteAsset,
  tier: row.tier,
  rank: Option.getOrNull(row.rank),
  quoteVolume24h: row.quoteVolume24h,
  liquidityGrade: row.liquidityGrade
})
