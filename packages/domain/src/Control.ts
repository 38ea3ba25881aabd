/** Control commands sent to an instance over Redis pub/sub, their acknowledgements and results (domain.md §5). */
import { Schema } from "effect"
import { Mode } from "./Mode.js"
import { SymbolId } from "./Market.js"
import { Timeframe } from "./Timeframe.js"

const commandFields = {
  /** Unique per command; the ack and result carry it back. */
  id: Schema.NonEmptyTrimmedString,
  issuedAt: Schema.DateTimeUtc,
  /** Who sent it (a user id or an instance id), for the command history. */
  issuedBy: Schema.String
}

export class Start extends Schema.TaggedClass<Start>()("start", {
  ...commandFields,
  /**
   * Another instance holds the exchange's lock: ask it to stop, wait for the lock, then start (domain.md §5: taking
   * over is an explicit act). Without it a held lock refuses the start, naming the holder.
   */
  takeover: Schema.optionalWith(Schema.Boolean, { exact: true })
}) {}
export class Stop extends Schema.TaggedClass<Stop>()("stop", { ...commandFields, reason: Schema.String }) {}
export class Pause extends Schema.TaggedClass<Pause>()("pause", { ...commandFields }) {}
export class Resume extends Schema.TaggedClass<Resume>()("resume", { ...commandFields }) {}
export class ReloadSettings extends Schema.TaggedClass<ReloadSettings>()("reload-settings", { ...commandFields }) {}
export class ForceBackfill extends Schema.TaggedClass<ForceBackfill>()("force-backfill", {
  ...commandFields,
  /** Limit the backfill to these symbols; all served symbols when absent. */
  symbols: Schema.optionalWith(Schema.Array(SymbolId), { exact: true }),
  timeframes: Schema.optionalWith(Schema.Array(Timeframe), { exact: true })
}) {}
export class ClearCache extends Schema.TaggedClass<ClearCache>()("clear-cache", {
  ...commandFields,
  symbols: Schema.optionalWith(Schema.Array(SymbolId), { exact: true })
}) {}
export class SwitchMode extends Schema.TaggedClass<SwitchMode>()("switch-mode", { ...commandFields, mode: Mode }) {}
export class GetStatus extends Schema.TaggedClass<GetStatus>()("status", { ...commandFields }) {}

/** Any control command, discriminated by `_tag`. */
export const Command = Schema.Union(
  Start,
  Stop,
  Pause,
  Resume,
  ReloadSettings,
  ForceBackfill,
  ClearCache,
  SwitchMode,
  GetStatus
).annotations({ identifier: "ControlCommand" })
export type Command = typeof Command.Type
export type CommandName = Command["_tag"]

/** Higher runs first: `stop` overtakes anything queued (domain.md §5). */
export const priority = (command: Command): number => (command._tag === "stop" ? 100 : command._tag === "status" ? 50 : 0)

/** Sent at once when a command is received. */
export class Ack extends Schema.TaggedClass<Ack>()("ack", {
  commandId: Schema.String,
  instanceId: Schema.String,
  receivedAt: Schema.DateTimeUtc
}) {}

/** Sent when a command finished. */
export class Succeeded extends Schema.TaggedClass<Succeeded>()("succeeded", {
  commandId: Schema.String,
  instanceId: Schema.String,
  finishedAt: Schema.DateTimeUtc,
  /** Command-specific outcome (a status payload, counts, …). */
  data: Schema.optionalWith(Schema.Unknown, { exact: true })
}) {}

/** Sent when a command failed. */
export class Failed extends Schema.TaggedClass<Failed>()("failed", {
  commandId: Schema.String,
  instanceId: Schema.String,
  finishedAt: Schema.DateTimeUtc,
  error: Schema.String
}) {}

/** Anything an instance sends back about a command. */
export const Reply = Schema.Union(Ack, Succeeded, Failed).annotations({ identifier: "ControlReply" })
export type Reply = typeof Reply.Type

/** No result arrived within the allowed time. */
export class CommandTimeout extends Schema.TaggedError<CommandTimeout>()("CommandTimeout", {
  commandId: Schema.String,
  command: Schema.String,
  waitedMs: Schema.Number
}) {
  override get message(): string {
    return `No result for ${this.command} (${this.commandId}) after ${this.waitedMs} ms`
  }
}
