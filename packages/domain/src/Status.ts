/** The status payload kept at `exchange:{id}:status`: a projection of the event log plus the heartbeat (domain.md §5). */
import { Schema } from "effect"
import { ExchangeId, ExchangeName } from "./Exchange.js"
import { ConnectionState } from "./Lifecycle.js"
import { Mode } from "./Mode.js"

/** Where `ipAddress` came from: a public-IP lookup, or a local interface when none answered. */
export const IpSource = Schema.Literal("public", "local").annotations({ identifier: "IpSource" })
export type IpSource = typeof IpSource.Type

const NullableTime = Schema.NullOr(Schema.DateTimeUtc)

/** What the network sees of one instance serving one exchange. */
export class InstanceStatus extends Schema.Class<InstanceStatus>("InstanceStatus")({
  exchangeId: ExchangeId,
  exchangeName: ExchangeName,
  instanceId: Schema.NonEmptyTrimmedString,
  connectionState: ConnectionState,
  connectedAt: NullableTime,
  lastHeartbeat: NullableTime,
  symbolCount: Schema.Int.pipe(Schema.nonNegative()),
  /**
   * Series whose last closed candle is older than 2 × timeframe + grace: they fire no alert until repaired
   * (domain.md §7). Absent in statuses written before it existed, hence the default.
   */
  staleSeries: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 0 }),
  adminEmail: Schema.NullOr(Schema.String),
  adminDisplayName: Schema.NullOr(Schema.String),
  ipAddress: Schema.NullOr(Schema.String),
  ipSource: Schema.NullOr(IpSource),
  hostname: Schema.String,
  lastError: Schema.NullOr(Schema.String),
  lockEpoch: Schema.NullOr(Schema.Int.pipe(Schema.nonNegative())),
  mode: Mode,
  version: Schema.String
}) {}
