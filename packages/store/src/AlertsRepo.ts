/**
 * The `alert_history` table: every fired alert, stored once per (exchange, symbol, timeframe, label,
 * candle open time) as domain.md §3 requires, with the outcome of its notification.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import { Alert, Timeframe } from "@livermore/domain"
import { Context, type DateTime, Effect, Layer, Option, Schema } from "effect"
import { BigintAsNumber, Timestamp } from "./internal/columns.js"
import { RecordNotFound, type StoreError, wrap } from "./StoreError.js"

/** Database id of a stored alert (`bigserial`; the driver returns it as a string). */
export const AlertId = BigintAsNumber.pipe(Schema.positive(), Schema.brand("AlertId"))
export type AlertId = typeof AlertId.Type

/** A stored alert: the domain `Alert` plus what the store knows about it. */
export class StoredAlert extends Schema.Class<StoredAlert>("StoredAlert")({
  id: AlertId,
  alert: Alert.Alert,
  /** Whether the notification was delivered. */
  notificationSent: Schema.Boolean,
  /** Why the last delivery attempt failed, if it did. */
  notificationError: Schema.OptionFromNullOr(Schema.String),
  /** When the row was written (may trail `alert.triggeredAt` on replays). */
  createdAt: Timestamp
}) {}

const AlertRow = Schema.Struct({
  id: Schema.String,
  exchange_id: Schema.Number,
  exchange_name: Schema.String,
  symbol: Schema.String,
  timeframe: Timeframe.Timeframe,
  label: Schema.String,
  value: Schema.Number,
  price: Schema.Number,
  candle_open_time: BigintAsNumber,
  triggered_at: Schema.DateFromSelf,
  details: Schema.encodedSchema(Alert.AlertDetails),
  notification_sent: Schema.Boolean,
  notification_error: Schema.NullOr(Schema.String),
  created_at: Schema.DateFromSelf
})

const StoredAlertFromRow = Schema.transform(AlertRow, StoredAlert, {
  strict: true,
  decode: (row) => ({
    id: row.id,
    alert: {
      exchangeId: row.exchange_id,
      exchangeName: row.exchange_name,
      symbol: row.symbol,
      timeframe: row.timeframe,
      label: row.label,
      value: row.value,
      price: row.price,
      candleOpenTime: row.candle_open_time,
      triggeredAt: row.triggered_at.toISOString(),
      details: row.details
    },
    notificationSent: row.notification_sent,
    notificationError: row.notification_error,
    createdAt: row.created_at
  }),
  encode: (stored) => ({
    id: stored.id,
    exchange_id: stored.alert.exchangeId,
    exchange_name: stored.alert.exchangeName,
    symbol: stored.alert.symbol,
    timeframe: stored.alert.timeframe,
    label: stored.alert.label,
    value: stored.alert.value,
    price: stored.alert.price,
    candle_open_time: stored.alert.candleOpenTime,
    triggered_at: new Date(stored.alert.triggeredAt),
    details: stored.alert.details,
    notification_sent: stored.notificationSent,
    notification_error: stored.notificationError,
    created_at: stored.createdAt
  })
})

/** A `cursor` that was not returned by `list`, or whose alert no longer exists. */
export class InvalidCursor extends Schema.TaggedError<InvalidCursor>()("InvalidCursor", {
  cursor: Schema.String
}) {
  override get message(): string {
    return `Invalid cursor "${this.cursor}"`
  }
}

/** Filters of `list`; all optional, combined with AND. */
export interface AlertQuery {
  readonly exchangeId?: number | undefined
  readonly symbol?: string | undefined
  readonly timeframe?: Timeframe.Timeframe | undefined
  readonly label?: string | undefined
  /** Alerts triggered at or after this instant. */
  readonly since?: DateTime.Utc | undefined
  /** Alerts triggered before this instant. */
  readonly until?: DateTime.Utc | undefined
  /** Page size, 1 to 1000. Default 100. */
  readonly limit?: number | undefined
  /** `nextCursor` of the previous page. */
  readonly cursor?: string | undefined
}

/** One page of alerts, newest first. */
export interface AlertPage {
  readonly items: ReadonlyArray<StoredAlert>
  /** Pass as `cursor` for the next (older) page; None on the last page. */
  readonly nextCursor: Option.Option<string>
}

/** Which alerts `pendingNotifications` returns. */
export interface PendingQuery {
  /** Alerts triggered at or after this instant. */
  readonly since: DateTime.Utc
  /** At most this many, 1 to 10 000. */
  readonly limit: number
}

/** The outcome of `insertOnce`. */
export interface InsertOutcome {
  /** False when the same alert (exchange, symbol, timeframe, label, candle open time) was already stored. */
  readonly isNew: boolean
  /** The stored alert's id, whether it was inserted now or before. */
  readonly id: AlertId
}

const ListRequest = Schema.Struct({
  exchangeId: Schema.NullOr(Schema.Number),
  symbol: Schema.NullOr(Schema.String),
  timeframe: Schema.NullOr(Timeframe.Timeframe),
  label: Schema.NullOr(Schema.String),
  since: Schema.NullOr(Schema.DateTimeUtc),
  until: Schema.NullOr(Schema.DateTimeUtc),
  limit: Schema.Int.pipe(Schema.between(1, 1000)),
  cursor: Schema.NullOr(AlertId)
})

const PendingRequest = Schema.Struct({
  since: Schema.DateTimeUtc,
  limit: Schema.Int.pipe(Schema.between(1, 10_000))
})

const Key = Schema.Struct({
  exchangeId: Schema.Number,
  symbol: Schema.String,
  timeframe: Schema.String,
  label: Schema.String,
  candleOpenTime: Schema.Number
})

const IdResult = Schema.Struct({ id: AlertId })

/** Alert history. */
export class AlertsRepo extends Context.Tag("@livermore/store/AlertsRepo")<
  AlertsRepo,
  {
    /** Store `alert` unless it is already stored (`ON CONFLICT DO NOTHING`); say which. */
    readonly insertOnce: (alert: Alert.Alert) => Effect.Effect<InsertOutcome, StoreError>
    /** Alerts matching `query`, newest first (by `triggeredAt`, then id), one page at a time. */
    readonly list: (query?: AlertQuery) => Effect.Effect<AlertPage, InvalidCursor | StoreError>
    /**
     * Alerts whose notification is still to be attempted (`notificationSent` false and no `notificationError`),
     * triggered at or after `since`, oldest first (by `triggeredAt`, then id).
     */
    readonly pendingNotifications: (query: PendingQuery) => Effect.Effect<ReadonlyArray<StoredAlert>, StoreError>
    readonly byId: (id: number) => Effect.Effect<StoredAlert, RecordNotFound | StoreError>
    /** Record a delivered notification (clears an earlier error). */
    readonly markNotified: (id: number) => Effect.Effect<void, RecordNotFound | StoreError>
    /** Record a failed delivery; `notificationSent` stays false. */
    readonly markNotificationFailed: (id: number, error: string) => Effect.Effect<void, RecordNotFound | StoreError>
  }
>() {}

/** Build the repository over the current `SqlClient`. */
export const make = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient

  const insert = SqlSchema.findOne({
    Request: Alert.Alert,
    Result: IdResult,
    execute: (a) => sql`
      INSERT INTO alert_history
        (exchange_id, exchange_name, symbol, timeframe, label, value, price, candle_open_time, triggered_at, details)
      VALUES (${a.exchangeId}, ${a.exchangeName}, ${a.symbol}, ${a.timeframe}, ${a.label}, ${a.value}, ${a.price},
              ${a.candleOpenTime}, ${a.triggeredAt}::timestamptz, ${JSON.stringify(a.details)}::jsonb)
      ON CONFLICT ON CONSTRAINT alert_history_once DO NOTHING
      RETURNING id`
  })
  const findExisting = SqlSchema.single({
    Request: Key,
    Result: IdResult,
    execute: (k) => sql`
      SELECT id FROM alert_history
      WHERE exchange_id = ${k.exchangeId} AND symbol = ${k.symbol} AND timeframe = ${k.timeframe}
        AND label = ${k.label} AND candle_open_time = ${k.candleOpenTime}`
  })
  const findById = SqlSchema.findOne({
    Request: AlertId,
    Result: StoredAlertFromRow,
    execute: (id) => sql`SELECT * FROM alert_history WHERE id = ${id}`
  })
  const findPage = SqlSchema.findAll({
    Request: ListRequest,
    Result: StoredAlertFromRow,
    execute: (q) => {
      const conditions = [
        ...(q.exchangeId === null ? [] : [sql`exchange_id = ${q.exchangeId}`]),
        ...(q.symbol === null ? [] : [sql`symbol = ${q.symbol}`]),
        ...(q.timeframe === null ? [] : [sql`timeframe = ${q.timeframe}`]),
        ...(q.label === null ? [] : [sql`label = ${q.label}`]),
        ...(q.since === null ? [] : [sql`triggered_at >= ${q.since}::timestamptz`]),
        ...(q.until === null ? [] : [sql`triggered_at < ${q.until}::timestamptz`]),
        // Keyset on the cursor row's own values: exact even where timestamps carry microseconds.
        ...(q.cursor === null
          ? []
          : [sql`(triggered_at, id) < (SELECT triggered_at, id FROM alert_history WHERE id = ${q.cursor})`])
      ]
      // One extra row tells whether another page follows.
      return sql`
        SELECT * FROM alert_history WHERE ${sql.and(conditions)}
        ORDER BY triggered_at DESC, id DESC
        LIMIT ${q.limit + 1}`
    }
  })
  const findPending = SqlSchema.findAll({
    Request: PendingRequest,
    Result: StoredAlertFromRow,
    execute: (q) => sql`
      SELECT * FROM alert_history
      WHERE notification_sent = false AND notification_error IS NULL AND triggered_at >= ${q.since}::timestamptz
      ORDER BY triggered_at ASC, id ASC
      LIMIT ${q.limit}`
  })
  const setNotification = SqlSchema.findOne({
    Request: Schema.Struct({ id: AlertId, sent: Schema.Boolean, error: Schema.NullOr(Schema.String) }),
    Result: IdResult,
    execute: ({ id, sent, error }) =>
      sql`UPDATE alert_history SET notification_sent = ${sent}, notification_error = ${error} WHERE id = ${id} RETURNING id`
  })

  const decodeCursor = (cursor: string) =>
    Schema.decodeUnknown(AlertId)(cursor).pipe(Effect.mapError(() => new InvalidCursor({ cursor })))
  const decodeId = (id: number) =>
    Schema.validate(AlertId)(id).pipe(Effect.mapError(() => new RecordNotFound({ entity: "alert", key: `id ${id}` })))

  const notification = (id: number, sent: boolean, error: string | null) =>
    decodeId(id).pipe(
      Effect.flatMap((alertId) => setNotification({ id: alertId, sent, error })),
      Effect.flatMap(
        Option.match({
          onNone: () => Effect.fail(new RecordNotFound({ entity: "alert", key: `id ${id}` })),
          onSome: () => Effect.void
        })
      )
    )

  return AlertsRepo.of({
    insertOnce: Effect.fn("AlertsRepo.insertOnce")(
      function* (alert: Alert.Alert) {
        const inserted = yield* insert(alert)
        if (Option.isSome(inserted)) return { isNew: true, id: inserted.value.id }
        const existing = yield* findExisting({
          exchangeId: alert.exchangeId,
          symbol: alert.symbol,
          timeframe: alert.timeframe,
          label: alert.label,
          candleOpenTime: alert.candleOpenTime
        })
        return { isNew: false, id: existing.id }
      },
      // The conflicting row exists (ON CONFLICT saw it), and alerts are never deleted by the store.
      Effect.catchTag("NoSuchElementException", Effect.die),
      wrap("AlertsRepo.insertOnce")
    ),
    list: Effect.fn("AlertsRepo.list")(
      function* (query: AlertQuery = {}) {
        const limit = query.limit ?? 100
        let cursor: AlertId | null = null
        if (query.cursor !== undefined) {
          cursor = yield* decodeCursor(query.cursor)
          if (Option.isNone(yield* findById(cursor))) return yield* new InvalidCursor({ cursor: query.cursor })
        }
        const rows = yield* findPage({
          exchangeId: query.exchangeId ?? null,
          symbol: query.symbol ?? null,
          timeframe: query.timeframe ?? null,
          label: query.label ?? null,
          since: query.since ?? null,
          until: query.until ?? null,
          limit,
          cursor
        })
        const items = rows.slice(0, limit)
        const last = items.at(-1)
        return {
          items,
          nextCursor: rows.length > limit && last !== undefined ? Option.some(String(last.id)) : Option.none()
        } satisfies AlertPage
      },
      wrap("AlertsRepo.list")
    ),
    pendingNotifications: Effect.fn("AlertsRepo.pendingNotifications")(
      (query: PendingQuery) => findPending(query),
      wrap("AlertsRepo.pendingNotifications")
    ),
    byId: Effect.fn("AlertsRepo.byId")(
      function* (id: number) {
        const found = yield* findById(yield* decodeId(id))
        return yield* Option.match(found, {
          onNone: () => Effect.fail(new RecordNotFound({ entity: "alert", key: `id ${id}` })),
          onSome: Effect.succeed
        })
      },
      wrap("AlertsRepo.byId")
    ),
    markNotified: Effect.fn("AlertsRepo.markNotified")(
      (id: number) => notification(id, true, null),
      wrap("AlertsRepo.markNotified")
    ),
    markNotificationFailed: Effect.fn("AlertsRepo.markNotificationFailed")(
      (id: number, error: string) => notification(id, false, error),
      wrap("AlertsRepo.markNotificationFailed")
    )
  })
})

/** `AlertsRepo` over the `SqlClient` of a store layer. */
export const layer: Layer.Layer<AlertsRepo, never, SqlClient.SqlClient> = Layer.effect(AlertsRepo, make)
