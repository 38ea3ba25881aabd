/** Live warmup progress (domain.md §6, `exchange:{id}:warm-up-schedule:stats`); the planning is engine's `WarmupPlan`. */
import { Schema } from "effect"
import * as Market from "./Market.js"
import * as Timeframe from "./Timeframe.js"

/** Warmup status (domain.md §6). `failed` means the run itself aborted; failed pairs are listed in `failures`. */
export const Status = Schema.Literal("scanning", "fetching", "completed", "failed")
export type Status = typeof Status.Type

/** A scheduled pair whose fetch failed; warmup went on with the others. */
export class Failure extends Schema.Class<Failure>("WarmupFailure")({
  symbol: Market.SymbolId,
  timeframe: Timeframe.Timeframe,
  from: Schema.Int,
  to: Schema.Int,
  error: Schema.String
}) {}

/** Live progress, at `exchange:{id}:warm-up-schedule:stats` and published on each update. */
export class Stats extends Schema.Class<Stats>("WarmupStats")({
  status: Status,
  totalPairs: Schema.NonNegativeInt,
  skippedPairs: Schema.NonNegativeInt,
  scheduledPairs: Schema.NonNegativeInt,
  completedPairs: Schema.NonNegativeInt,
  failedPairs: Schema.NonNegativeInt,
  /** 0–100, of the scheduled pairs done (completed or failed); 100 when nothing is scheduled. */
  percentComplete: Schema.Number.pipe(Schema.between(0, 100)),
  /** Seconds left at the pace so far; null until one pair is done. */
  etaSeconds: Schema.NullOr(Schema.NonNegativeInt),
  currentSymbol: Schema.NullOr(Market.SymbolId),
  currentTimeframe: Schema.NullOr(Timeframe.Timeframe),
  /** ms since the epoch. */
  startedAt: Schema.Int,
  updatedAt: Schema.Int,
  failures: Schema.Array(Failure),
  /** Why the run aborted, when `status` is `failed`. */
  error: Schema.optionalWith(Schema.String, { exact: true })
}) {}

