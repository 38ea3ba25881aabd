/** The `positions` table: users' spot holdings per exchange, which feed Tier 2 of the symbol universe. */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Exchange, Market } from "@livermore/domain"
import { type BigDecimal, Context, Effect, Layer, Schema } from "effect"
import { column, Timestamp } from "./internal/columns.js"
import { type StoreError, wrap } from "./StoreError.js"
import { UserId } from "./UsersRepo.js"

const NonNegativeDecimal = Schema.BigDecimal.pipe(Schema.nonNegativeBigDecimal())

/** A holding. Decimals are `BigDecimal`, read from `numeric` columns without rounding. */
export class Position extends Schema.Class<Position>("Position")({
  userId: column("user_id", UserId),
  exchangeId: column("exchange_id", Exchange.ExchangeId),
  symbol: Market.SymbolId,
  quantity: NonNegativeDecimal,
  /** None when the exchange's fills do not allow computing it. */
  averagePrice: column("average_price", Schema.OptionFromNullOr(NonNegativeDecimal)),
  updatedAt: column("updated_at", Timestamp)
}) {}

/** A holding to store; replaces the previous values of the same user, exchange and symbol. */
export interface UpsertPosition {
  readonly userId: number
  readonly exchangeId: number
  readonly symbol: string
  readonly quantity: BigDecimal.BigDecimal
  readonly averagePrice?: BigDecimal.BigDecimal | undefined
}

const UpsertRequest = Schema.Struct({
  userId: Schema.Number,
  exchangeId: Schema.Number,
  symbol: Market.SymbolId.from,
  quantity: NonNegativeDecimal,
  averagePrice: Schema.NullOr(NonNegativeDecimal)
})

const Key = Schema.Struct({ userId: Schema.Number, exchangeId: Schema.Number, symbol: Schema.String })

/** Users' holdings. */
export class PositionsRepo extends Context.Tag("@livermore/store/PositionsRepo")<
  PositionsRepo,
  {
    /** Insert or replace a holding. */
    readonly upsert: (position: UpsertPosition) => Effect.Effect<Position, StoreError>
    /** A user's holdings, optionally on one exchange, by exchange then symbol. */
    readonly listByUser: (
      userId: number,
      exchangeId?: number | undefined
    ) => Effect.Effect<ReadonlyArray<Position>, StoreError>
    /** Forget a holding (sold out); returns whether there was one. */
    readonly remove: (userId: number, exchangeId: number, symbol: string) => Effect.Effect<boolean, StoreError>
  }
>() {}

/** Build the repository over the current `SqlClient`. */
export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const upsert = SqlSchema.single({
    Request: UpsertRequest,
    Result: Position,
    execute: (p) => sql`
      INSERT INTO positions (user_id, exchange_id, symbol, quantity, average_price)
      VALUES (${p.userId}, ${p.exchangeId}, ${p.symbol}, ${p.quantity}::numeric, ${p.averagePrice}::numeric)
      ON CONFLICT (user_id, exchange_id, symbol) DO UPDATE SET
        quantity = EXCLUDED.quantity,
        average_price = EXCLUDED.average_price
      RETURNING *`
  })
  const findByUser = SqlSchema.findAll({
    Request: Schema.Struct({ userId: Schema.Number, exchangeId: Schema.NullOr(Schema.Number) }),
    Result: Position,
    execute: ({ userId, exchangeId }) => sql`
      SELECT * FROM positions
      WHERE user_id = ${userId} AND (${exchangeId}::integer IS NULL OR exchange_id = ${exchangeId}::integer)
      ORDER BY exchange_id, symbol`
  })
  const deleteOne = SqlSchema.findAll({
    Request: Key,
    Result: Schema.Struct({ symbol: Schema.String }),
    execute: ({ userId, exchangeId, symbol }) => sql`
      DELETE FROM positions WHERE user_id = ${userId} AND exchange_id = ${exchangeId} AND symbol = ${symbol}
      RETURNING symbol`
  })

  return PositionsRepo.of({
    upsert: Effect.fn("PositionsRepo.upsert")(
      (position: UpsertPosition) =>
        upsert({
          userId: position.userId,
          exchangeId: position.exchangeId,
          symbol: position.symbol,
          quantity: position.quantity,
          averagePrice: position.averagePrice ?? null
        }),
      // RETURNING always yields the row.
      Effect.catchTag("NoSuchElementException", Effect.die),
      wrap("PositionsRepo.upsert")
    ),
    listByUser: Effect.fn("PositionsRepo.listByUser")(
      (userId: number, exchangeId?: number | undefined) => findByUser({ userId, exchangeId: exchangeId ?? null }),
      wrap("PositionsRepo.listByUser")
    ),
    remove: Effect.fn("PositionsRepo.remove")(
      (userId: number, exchangeId: number, symbol: string) =>
        deleteOne({ userId, exchangeId, symbol }).pipe(Effect.map((rows) => rows.length > 0)),
      wrap("PositionsRepo.remove")
    )
  })
})

/** `PositionsRepo` over the `SqlClient` of a store layer. */
export const layer: Layer.Layer<PositionsRepo, never, SqlClient.SqlClient> = Layer.effect(PositionsRepo, make)
