/**
 * The `exchange_symbols` table: the symbol universe of each exchange (domain.md §7). Tier 1 is the shared
 * pool (top N by 24 h quote volume), Tier 2 users' held symbols outside it.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Exchange, Market } from "@livermore/domain"
import { Array as Arr, Context, Effect, Layer, Schema } from "effect"
import { column, Timestamp } from "./internal/columns.js"
import { LiquidityGrade } from "./LiquidityGrade.js"
import { type StoreError, wrap } from "./StoreError.js"

/** 1: the shared pool; 2: a user's symbol outside it. */
export const Tier = Schema.Literal(1, 2)
export type Tier = typeof Tier.Type

const Volume = Schema.Number.pipe(Schema.finite(), Schema.nonNegative())

/** One symbol of an exchange. Its encoded form is its row. */
export class ExchangeSymbol extends Schema.Class<ExchangeSymbol>("ExchangeSymbol")({
  exchangeId: column("exchange_id", Exchange.ExchangeId),
  /** The exchange's own product id. */
  symbol: Market.SymbolId,
  baseAsset: column("base_asset", Schema.NonEmptyTrimmedString),
  quoteAsset: column("quote_asset", Schema.NonEmptyTrimmedString),
  tier: Tier,
  /** Position by 24 h quote volume on this exchange (1 = most traded), if ranked. */
  rank: Schema.OptionFromNullOr(Schema.Int.pipe(Schema.positive())),
  /** 24 h volume in base units. */
  volume24h: column("volume_24h", Volume),
  /** 24 h volume in quote units (the ranking key). */
  quoteVolume24h: column("quote_volume_24h", Volume),
  liquidityGrade: column("liquidity_grade", LiquidityGrade),
  updatedAt: column("updated_at", Timestamp)
}) {}

/** A symbol to store; `updatedAt` is set by the database. */
export interface UpsertSymbol {
  readonly symbol: string
  readonly baseAsset: string
  readonly quoteAsset: string
  readonly tier: Tier
  readonly rank?: number | undefined
  readonly volume24h: number
  readonly quoteVolume24h: number
  readonly liquidityGrade: LiquidityGrade
}

const UpsertRow = Schema.Struct({
  exchange_id: Schema.Number,
  // The symbol's pattern without its brand: callers pass plain strings, validated here.
  symbol: Market.SymbolId.from,
  base_asset: Schema.NonEmptyTrimmedString,
  quote_asset: Schema.NonEmptyTrimmedString,
  tier: Tier,
  rank: Schema.NullOr(Schema.Int.pipe(Schema.positive())),
  volume_24h: Volume,
  quote_volume_24h: Volume,
  liquidity_grade: LiquidityGrade
})
type UpsertRow = typeof UpsertRow.Encoded

// 9 parameters a row; Postgres allows 65535 per statement.
const CHUNK = 1000

/** Symbols per exchange. */
export class ExchangeSymbolsRepo extends Context.Tag("@livermore/store/ExchangeSymbolsRepo")<
  ExchangeSymbolsRepo,
  {
    /** Insert or update `symbols` of `exchangeId` (keyed by symbol); returns how many rows were written. */
    readonly upsertMany: (exchangeId: number, symbols: ReadonlyArray<UpsertSymbol>) => Effect.Effect<number, StoreError>
    /**
     * Make `symbols` the whole of `tier` on `exchangeId`: upsert them and delete the tier's other symbols,
     * in one transaction (a refreshed top-N list drops symbols that fell out). Returns how many were deleted.
     */
    readonly replaceTier: (
      exchangeId: number,
      tier: Tier,
      symbols: ReadonlyArray<UpsertSymbol>
    ) => Effect.Effect<{ readonly upserted: number; readonly deleted: number }, StoreError>
    /** Symbols of an exchange, optionally of one tier: by tier, then rank (unranked last), then symbol. */
    readonly listByExchange: (
      exchangeId: number,
      tier?: Tier | undefined
    ) => Effect.Effect<ReadonlyArray<ExchangeSymbol>, StoreError>
  }
>() {}

/** Build the repository over the current `SqlClient`. */
export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const upsertChunk = SqlSchema.void({
    Request: Schema.Array(UpsertRow),
    execute: (rows) => sql`
      INSERT INTO exchange_symbols ${sql.insert(rows)}
      ON CONFLICT (exchange_id, symbol) DO UPDATE SET
        base_asset = EXCLUDED.base_asset,
        quote_asset = EXCLUDED.quote_asset,
        tier = EXCLUDED.tier,
        rank = EXCLUDED.rank,
        volume_24h = EXCLUDED.volume_24h,
        quote_volume_24h = EXCLUDED.quote_volume_24h,
        liquidity_grade = EXCLUDED.liquidity_grade`
  })
  const deleteOthers = SqlSchema.findAll({
    Request: Schema.Struct({ exchangeId: Schema.Number, tier: Tier, keep: Schema.Array(Schema.String) }),
    Result: Schema.Struct({ symbol: Schema.String }),
    execute: ({ exchangeId, tier, keep }) => sql`
      DELETE FROM exchange_symbols
      WHERE exchange_id = ${exchangeId} AND tier = ${tier} AND NOT (symbol = ANY(${keep}::text[]))
      RETURNING symbol`
  })
  const findByExchange = SqlSchema.findAll({
    Request: Schema.Struct({ exchangeId: Schema.Number, tier: Schema.NullOr(Tier) }),
    Result: ExchangeSymbol,
    execute: ({ exchangeId, tier }) => sql`
      SELECT * FROM exchange_symbols
      WHERE exchange_id = ${exchangeId} AND (${tier}::smallint IS NULL OR tier = ${tier}::smallint)
      ORDER BY tier, rank NULLS LAST, symbol`
  })

  const toRow =
    (exchangeId: number) =>
    (s: UpsertSymbol): UpsertRow => ({
      exchange_id: exchangeId,
      symbol: s.symbol,
      base_asset: s.baseAsset,
      quote_asset: s.quoteAsset,
      tier: s.tier,
      rank: s.rank ?? null,
      volume_24h: s.volume24h,
      quote_volume_24h: s.quoteVolume24h,
      liquidity_grade: s.liquidityGrade
    })

  const upsertAll = (exchangeId: number, symbols: ReadonlyArray<UpsertSymbol>) =>
    Effect.forEach(Arr.chunksOf(symbols.map(toRow(exchangeId)), CHUNK), (rows) => upsertChunk(rows), {
      discard: true
    }).pipe(Effect.as(symbols.length))

  return ExchangeSymbolsRepo.of({
    upsertMany: Effect.fn("ExchangeSymbolsRepo.upsertMany")(
      (exchangeId: number, symbols: ReadonlyArray<UpsertSymbol>) =>
        symbols.length === 0 ? Effect.succeed(0) : upsertAll(exchangeId, symbols).pipe(sql.withTransaction),
      wrap("ExchangeSymbolsRepo.upsertMany")
    ),
    replaceTier: Effect.fn("ExchangeSymbolsRepo.replaceTier")(
      function* (exchangeId: number, tier: Tier, symbols: ReadonlyArray<UpsertSymbol>) {
        const upserted = yield* upsertAll(
          exchangeId,
          symbols.map((s) => ({ ...s, tier }))
        )
        const deleted = yield* deleteOthers({ exchangeId, tier, keep: symbols.map((s) => s.symbol) })
        return { upserted, deleted: deleted.length }
      },
      sql.withTransaction,
      wrap("ExchangeSymbolsRepo.replaceTier")
    ),
    listByExchange: Effect.fn("ExchangeSymbolsRepo.listByExchange")(
      (exchangeId: number, tier?: Tier | undefined) => findByExchange({ exchangeId, tier: tier ?? null }),
      wrap("ExchangeSymbolsRepo.listByExchange")
    )
  })
})

/** `ExchangeSymbolsRepo` over the `SqlClient` of a store layer. */
export const layer: Layer.Layer<ExchangeSymbolsRepo, never, SqlClient.SqlClient> = Layer.effect(
  ExchangeSymbolsRepo,
  make
)
