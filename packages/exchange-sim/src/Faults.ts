/** Fault injection: the switchable faults, their wire schema (`POST /__sim/faults`) and how a request applies. */
import { Schema } from "effect"

const Ratio = Schema.Number.pipe(Schema.between(0, 1))

/** The standing faults (what `GET /__sim/faults` answers). */
export const Faults = Schema.Struct({
  /** Extra delay before every REST response, ms (0 … 60000). Default 0. */
  delayMs: Schema.optionalWith(Schema.NonNegativeInt.pipe(Schema.lessThanOrEqualTo(60_000)), { default: () => 0 }),
  /** Share (0 … 1) of outbound WebSocket data frames followed by a garbage (non-JSON) frame. Default 0. */
  malformedFrames: Schema.optionalWith(Ratio, { default: () => 0 }),
  /** Share (0 … 1) of REST requests answered with a 500 in the venue's error shape. Default 0. */
  restErrorRate: Schema.optionalWith(Ratio, { default: () => 0 }),
  /** While true, connections stay open but nothing is sent (no data, acks, heartbeats or pings). Default false. */
  silence: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** While true, new WebSocket upgrades are refused with HTTP 503. Default false. */
  rejectConnections: Schema.optionalWith(Schema.Boolean, { default: () => false })
})
export type Faults = typeof Faults.Type

/** No faults. */
export const none: Faults = Schema.decodeSync(Faults)({})

/** A `POST /__sim/faults` body: standing faults to change (others keep their value) plus one-shot actions. */
export const FaultsRequest = Schema.Struct({
  delayMs: Schema.optional(Schema.NonNegativeInt.pipe(Schema.lessThanOrEqualTo(60_000))),
  malformedFrames: Schema.optional(Ratio),
  restErrorRate: Schema.optional(Ratio),
  silence: Schema.optional(Schema.Boolean),
  rejectConnections: Schema.optional(Schema.Boolean),
  /** One shot: drop (terminate without a close frame) every open WebSocket connection now. */
  dropConnections: Schema.optional(Schema.Boolean),
  /** One shot: send Binance's `serverShutdown` event on every Binance connection, then close them. */
  serverShutdown: Schema.optional(Schema.Boolean)
})
export type FaultsRequest = typeof FaultsRequest.Type

/** Decode a request body; unknown keys are an error (a typo must not pass as "no fault"). */
export const decodeRequest = Schema.decodeUnknownEither(FaultsRequest, { onExcessProperty: "error" })

/** The standing faults after applying `request` to `current`. */
export const apply = (current: Faults, request: FaultsRequest): Faults => ({
  delayMs: request.delayMs ?? current.delayMs,
  malformedFrames: request.malformedFrames ?? current.malformedFrames,
  restErrorRate: request.restErrorRate ?? current.restErrorRate,
  silence: request.silence ?? current.silence,
  rejectConnections: request.rejectConnections ?? current.rejectConnections
})
