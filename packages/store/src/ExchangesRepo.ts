/**
 * The `exchanges` table. Rows with an adapter are served as the domain's `Exchange`; rows without one
 * (venues listed but not implemented yet: kraken, kucoin, mexc) appear only in the catalog, and asking
 * for them by name fails with `ExchangeNotSupported` rather than pretending they are usable.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Exchange, Timeframe } from "@livermore/domain"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { NumericAsNumber } from "./internal/columns.js"
import { type StoreError, wrap } from "./StoreError.js"

/** An exchange row as stored, adapter or not. */
export class ExchangeRecord extends Schema.Class<ExchangeRecord>("ExchangeRecord")({
  id: Exchange.ExchangeId,
  name: Exchange.ExchangeName,
  displayName: Schema.NonEmptyTrimmedString,
  /** None: listed, but no adapter speaks its protocol yet (such a row is never active). */
  adapter: Schema.OptionFromNullOr(Exchange.AdapterKind),
  wsUrl: Schema.NonEmptyTrimmedString,
  restUrl: Schema.NonEmptyTrimmedString,
  timeframes: Schema.NonEmptyArray(Timeframe.Timeframe),
  apiLimits: Exchange.ApiLimits,
  fees: Exchange.Fees,
  geoRestrictions: Schema.Array(Schema.String),
  isActive: Schema.Boolean
}) {}

/** A listed exchange that Livermore cannot serve yet: no adapter speaks its protocol. */
export class ExchangeNotSupported extends Schema.TaggedError<ExchangeNotSupported>()("ExchangeNotSupported", {
  exchange: Schema.String
}) {
  override get message(): string {
    return `Exchange "${this.exchange}" has no adapter yet; only the coinbase and binance protocols are implemented`
  }
}

/** The row exactly as the driver returns it. */
const ExchangeRow = Schema.Struct({
  id: Schema.Number,
  name: Schema.String,
  display_name: Schema.String,
  adapter: Schema.NullOr(Exchange.AdapterKind),
  ws_url: Schema.String,
  rest_url: Schema.String,
  timeframes: Schema.NonEmptyArray(Timeframe.Timeframe),
  rest_weight_per_minute: Schema.Number,
  candles_per_request: Schema.Number,
  ws_messages_per_second: Schema.Number,
  ws_max_streams_per_connection: Schema.Number,
  ws_max_connection_hours: Schema.NullOr(Schema.Number),
  maker_fee: NumericAsNumber,
  taker_fee: NumericAsNumber,
  geo_restrictions: Schema.Array(Schema.String),
  is_active: Schema.Boolean
})

const ExchangeRecordFromRow = Schema.transform(ExchangeRow, ExchangeRecord, {
  strict: true,
  decode: (row) => ({
    id: row.id,
    name: row.name,
    displayName: row.display_name,
    adapter: row.adapter,
    wsUrl: row.ws_url,
    restUrl: row.rest_url,
    timeframes: row.timeframes,
    apiLimits: {
      restWeightPerMinute: row.rest_weight_per_minute,
      candlesPerRequest: row.candles_per_request,
      wsMessagesPerSecond: row.ws_messages_per_second,
      wsMaxStreamsPerConnection: row.ws_max_streams_per_connection,
      ...(row.ws_max_connection_hours === null ? {} : { wsMaxConnectionHours: row.ws_max_connection_hours })
    },
    fees: { maker: row.maker_fee, taker: row.taker_fee },
    geoRestrictions: row.geo_restrictions,
    isActive: row.is_active
  }),
  encode: (record) => ({
    id: record.id,
    name: record.name,
    display_name: record.displayName,
    adapter: record.adapter,
    ws_url: record.wsUrl,
    rest_url: record.restUrl,
    timeframes: record.timeframes,
    rest_weight_per_minute: record.apiLimits.restWeightPerMinute,
    candles_per_request: record.apiLimits.candlesPerRequest,
    ws_messages_per_second: record.apiLimits.wsMessagesPerSecond,
    ws_max_streams_per_connection: record.apiLimits.wsMaxStreamsPerConnection,
    ws_max_connection_hours: record.apiLimits.wsMaxConnectionHours ?? null,
    maker_fee: record.fees.maker,
    taker_fee: record.fees.taker,
    geo_restrictions: record.geoRestrictions,
    is_active: record.isActive
  })
})

/** The domain `Exchange` of a record, if an adapter serves it. */
export const toExchange = (record: ExchangeRecord): Option.Option<Exchange.Exchange> =>
  Option.map(
    record.adapter,
    (adapter) =>
      new Exchange.Exchange({
        id: record.id,
        name: record.name,
        displayName: record.displayName,
        adapter,
        wsUrl: record.wsUrl,
        restUrl: record.restUrl,
        timeframes: record.timeframes,
        apiLimits: record.apiLimits,
        fees: record.fees,
        geoRestrictions: record.geoRestrictions,
        isActive: record.isActive
      })
  )

/** Read access to exchanges. Exchanges change only through migrations, so there are no writes here. */
export class ExchangesRepo extends Context.Tag("@livermore/store/ExchangesRepo")<
  ExchangesRepo,
  {
    /** Every exchange an adapter can serve, active or not, by id. */
    readonly list: Effect.Effect<ReadonlyArray<Exchange.Exchange>, StoreError>
    /** Every row, including venues without an adapter, by id. */
    readonly catalog: Effect.Effect<ReadonlyArray<ExchangeRecord>, StoreError>
    /** The exchange named `name` (e.g. `binance_us`). */
    readonly byName: (
      name: string
    ) => Effect.Effect<Exchange.Exchange, Exchange.UnknownExchange | ExchangeNotSupported | StoreError>
    /** The exchange with id `id`. */
    readonly byId: (
      id: number
    ) => Effect.Effect<Exchange.Exchange, Exchange.UnknownExchange | ExchangeNotSupported | StoreError>
  }
>() {}

/** Build the repository over the current `SqlClient`. */
export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const findAll = SqlSchema.findAll({
    Request: Schema.Void,
    Result: ExchangeRecordFromRow,
    execute: () => sql`SELECT * FROM exchanges ORDER BY id`
  })
  const findByName = SqlSchema.findOne({
    Request: Schema.String,
    Result: ExchangeRecordFromRow,
    execute: (name) => sql`SELECT * FROM exchanges WHERE name = ${name}`
  })
  const findById = SqlSchema.findOne({
    Request: Schema.Number,
    Result: ExchangeRecordFromRow,
    execute: (id) => sql`SELECT * FROM exchanges WHERE id = ${id}`
  })

  const servable = (key: string) => (record: Option.Option<ExchangeRecord>) =>
    Option.match(record, {
      onNone: () => Effect.fail(new Exchange.UnknownExchange({ exchange: key })),
      onSome: (found) =>
        Option.match(toExchange(found), {
          onNone: () => Effect.fail(new ExchangeNotSupported({ exchange: found.name })),
          onSome: Effect.succeed
        })
    })

  const catalog = findAll(undefined).pipe(wrap("ExchangesRepo.catalog"), Effect.withSpan("ExchangesRepo.catalog"))

  return ExchangesRepo.of({
    list: catalog.pipe(
      Effect.map((records) => records.flatMap((record) => Option.toArray(toExchange(record)))),
      Effect.withSpan("ExchangesRepo.list")
    ),
    catalog,
    byName: Effect.fn("ExchangesRepo.byName")(
      function* (name: string) {
        return yield* servable(name)(yield* findByName(name))
      },
      wrap("ExchangesRepo.byName")
    ),
    byId: Effect.fn("ExchangesRepo.byId")(
      function* (id: number) {
        return yield* servable(`id ${id}`)(yield* findById(id))
      },
      wrap("ExchangesRepo.byId")
    )
  })
})

/** `ExchangesRepo` over the `SqlClient` of a store layer. */
export const layer: Layer.Layer<ExchangesRepo, never, SqlClient.SqlClient> = Layer.effect(ExchangesRepo, make)
