/**
 * The control channel (domain.md §5 "Control"): commands travel to one instance over pub/sub, each is
 * acknowledged at once, run one at a time in priority order (`stop` overtakes what is queued), answered with a
 * result, and recorded in a command history.
 *
 * Names (not in domain.md §4's table; named like its channels, and prefixed by `RedisClient.prefix` on Redis):
 * - `channel:control:{instanceId}` (pub/sub): commands to an instance, `Control.Command` as JSON;
 * - `channel:control:{instanceId}:replies` (pub/sub): what the instance says back, `Control.Reply` as JSON, each
 *   carrying the `commandId` it answers, so concurrent senders pick out their own replies;
 * - `control:history:{instanceId}` (stream): one entry per finished command (`HistoryEntry`), trimmed to about
 *   `historyMaxLength` entries.
 *
 * Addressing is by instance id, not exchange: the lock lease names the holder's instance, so taking over an
 * exchange is "send `stop` to the instance named in the lease, then wait for the lock to free".
 */
import { Bus, CacheError, RedisClient } from "@livermore/cache"
import { Control } from "@livermore/domain"
import {
  Cause,
  Context,
  DateTime,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  Layer,
  Metric,
  MetricLabel,
  Option,
  Order,
  ParseResult,
  Ref,
  Schedule,
  Schema,
  type Scope,
  STM,
  Stream,
  TPriorityQueue
} from "effect"

// ---------------------------------------------------------------------------------------------------------------
// Names

/** `channel:control:{instanceId}`: the commands addressed to one instance. */
export const commandChannel = (instanceId: string): string => `channel:control:${instanceId}`

/** `channel:control:{instanceId}:replies`: the acks and results of that instance, each with its `commandId`. */
export const replyChannel = (instanceId: string): string => `channel:control:${instanceId}:replies`

/** `control:history:{instanceId}`: the stream of commands the instance finished. */
export const historyKey = (instanceId: string): string => `control:history:${instanceId}`

// ---------------------------------------------------------------------------------------------------------------
// Errors the sender sees (they can reach an RPC caller, so they are Schemas like `Control.CommandTimeout`)

/** No acknowledgement within the ack timeout: the instance is not running, or not listening on its channel. */
export class NoAck extends Schema.TaggedError<NoAck>()("NoAck", {
  instanceId: Schema.String,
  commandId: Schema.String,
  command: Schema.String,
  waitedMs: Schema.Number
}) {
  override get message(): string {
    return `Instance ${this.instanceId} did not acknowledge ${this.command} (${this.commandId}) within ${this.waitedMs} ms: nothing is listening on its control channel`
  }
}

/** The instance ran the command (or refused it) and reported a failure. */
export class CommandFailed extends Schema.TaggedError<CommandFailed>()("CommandFailed", {
  instanceId: Schema.String,
  commandId: Schema.String,
  command: Schema.String,
  /** The one-line reason the instance gave. */
  error: Schema.String
}) {
  override get message(): string {
    return `${this.command} (${this.commandId}) failed on instance ${this.instanceId}: ${this.error}`
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Command history

const commandNames = [
  "start",
  "stop",
  "pause",
  "resume",
  "reload-settings",
  "force-backfill",
  "clear-cache",
  "switch-mode",
  "status"
] as const satisfies ReadonlyArray<Control.CommandName>

/** One finished command, as stored in `control:history:{instanceId}`. */
export class HistoryEntry extends Schema.Class<HistoryEntry>("ControlHistoryEntry")({
  commandId: Schema.String,
  /** The command's `_tag`. */
  name: Schema.Literal(...commandNames),
  issuedBy: Schema.String,
  issuedAt: Schema.DateTimeUtc,
  /** When the instance received (and acknowledged) it. */
  receivedAt: Schema.DateTimeUtc,
  /** When it finished, or was given up because the server stopped. */
  finishedAt: Schema.DateTimeUtc,
  outcome: Schema.Literal("succeeded", "failed"),
  /** The one-line reason, present exactly when `outcome` is `failed`. */
  error: Schema.optionalWith(Schema.String, { exact: true })
}) {}

/** A stored history entry with its stream id (`<ms>-<seq>`, growing with every append). */
export interface HistoryRecord {
  readonly id: string
  readonly entry: HistoryEntry
}

/** Which entries `CommandHistory.list` returns. */
export interface HistoryOptions {
  /** At most this many entries, newest first (default: all that are kept). */
  readonly count?: number | undefined
}

/** How a history backing trims. */
export interface HistoryStoreOptions {
  /**
   * Entries kept per instance; older ones are trimmed on append (on Redis with `MAXLEN ~`, which may keep up to a
   * stream node more). A positive integer (anything else is a defect). Default 10 000.
   */
  readonly maxLength?: number | undefined
}

/** Entries kept per instance when `HistoryStoreOptions.maxLength` is left out. */
export const historyMaxLength = 10_000

/** The command history of every instance. */
export class CommandHistory extends Context.Tag("@livermore/engine/ControlChannel/CommandHistory")<
  CommandHistory,
  {
    /** Append a finished command to `control:history:{instanceId}`; returns its stream id. */
    readonly record: (instanceId: string, entry: HistoryEntry) => Effect.Effect<string, CacheError.CacheError>
    /** Stored entries, newest first; one that does not decode is a `CacheError` (`Decode`). */
    readonly list: (
      instanceId: string,
      options?: HistoryOptions
    ) => Effect.Effect<ReadonlyArray<HistoryRecord>, CacheError.CacheError>
  }
>() {}

const fieldOrder = [
  "commandId",
  "name",
  "issuedBy",
  "issuedAt",
  "receivedAt",
  "finishedAt",
  "outcome",
  "error"
] as const satisfies ReadonlyArray<keyof Schema.Schema.Encoded<typeof HistoryEntry>>

/** The entry as the flat string fields of a stream entry, in a fixed order. */
const encodeFields = (entry: HistoryEntry, key: string) =>
  Schema.encode(HistoryEntry)(entry).pipe(
    Effect.map((flat) => {
      const out: Array<string> = []
      for (const name of fieldOrder) {
        const value = flat[name]
        if (value !== undefined) out.push(name, value)
      }
      return out
    }),
    Effect.mapError((cause) => new CacheError.CacheError({ reason: "Encode", op: "CommandHistory.record", key, cause }))
  )

const decodeFields = (id: string, fields: ReadonlyArray<string>, key: string) => {
  const record: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!
  return Schema.decodeUnknown(HistoryEntry)(record).pipe(
    Effect.map((entry): HistoryRecord => ({ id, entry })),
    Effect.mapError(
      (cause) => new CacheError.CacheError({ reason: "Decode", op: "CommandHistory.list", key: `${key} ${id}`, cause })
    )
  )
}

const checkCount = (key: string, options: HistoryOptions | undefined): Effect.Effect<void, CacheError.CacheError> => {
  const count = options?.count
  return count === undefined || (Number.isInteger(count) && count > 0)
    ? Effect.void
    : Effect.fail(
        new CacheError.CacheError({
          reason: "Argument",
          op: "CommandHistory.list",
          key,
          cause: `count must be a positive integer, got ${count}`
        })
      )
}

const checkMaxLength = (maxLength: number): number => {
  if (!(Number.isInteger(maxLength) && maxLength > 0)) {
    throw new RangeError(`CommandHistory maxLength must be a positive integer, got ${maxLength}`)
  }
  return maxLength
}

/** The history on Redis streams: XADD with `MAXLEN ~`, read back with XREVRANGE. */
export const makeRedis = (
  options: HistoryStoreOptions = {}
): Effect.Effect<Context.Tag.Service<CommandHistory>, never, RedisClient.RedisClient> =>
  Effect.gen(function* () {
    const redis = yield* RedisClient.RedisClient
    const maxLength = String(checkMaxLength(options.maxLength ?? historyMaxLength))
    const run = <A>(op: string, key: string, f: (r: RedisClient.Connection["redis"]) => Promise<A>) =>
      redis.use(op, f).pipe(Effect.mapError((cause) => new CacheError.CacheError({ reason: "Backend", op, key, cause })))
    return CommandHistory.of({
      record: Effect.fn("CommandHistory.record")(function* (instanceId, entry) {
        const key = redis.key(historyKey(instanceId))
        const fields = yield* encodeFields(entry, key)
        const id = yield* run("CommandHistory.record", key, (r) => r.xadd(key, "MAXLEN", "~", maxLength, "*", ...fields))
        if (id === null) {
          return yield* new CacheError.CacheError({
            reason: "Backend",
            op: "CommandHistory.record",
            key,
            cause: "XADD returned no id"
          })
        }
        return id
      }),
      list: Effect.fn("CommandHistory.list")(function* (instanceId, options) {
        const key = redis.key(historyKey(instanceId))
        yield* checkCount(key, options)
        const count = options?.count
        const raw = yield* run("CommandHistory.list", key, (r) =>
          count === undefined ? r.xrevrange(key, "+", "-") : r.xrevrange(key, "+", "-", "COUNT", count)
        )
        return yield* Effect.forEach(raw, ([id, fields]) => decodeFields(id, fields, key))
      })
    })
  })

/** The history in process memory, stored as encoded fields so decoding behaves as on Redis; trimming is exact. */
export const makeMemory = (options: HistoryStoreOptions = {}): Effect.Effect<Context.Tag.Service<CommandHistory>> =>
  Effect.sync(() => {
    const maxLength = checkMaxLength(options.maxLength ?? historyMaxLength)
    const streams = new Map<string, Array<{ readonly id: string; readonly fields: ReadonlyArray<string> }>>()
    let lastMs = 0
    let seq = 0
    return CommandHistory.of({
      record: Effect.fn("CommandHistory.record")(function* (instanceId, entry) {
        const key = historyKey(instanceId)
        const fields = yield* encodeFields(entry, key)
        const now = yield* DateTime.now
        const ms = DateTime.toEpochMillis(now)
        // Stream-id semantics: ids grow even when the clock stands still or steps back.
        if (ms > lastMs) {
          lastMs = ms
          seq = 0
        } else {
          seq += 1
        }
        const id = `${lastMs}-${seq}`
        const stream = streams.get(key) ?? []
        stream.push({ id, fields })
        streams.set(key, stream.length > maxLength ? stream.slice(stream.length - maxLength) : stream)
        return id
      }),
      list: Effect.fn("CommandHistory.list")(function* (instanceId, options) {
        const key = historyKey(instanceId)
        yield* checkCount(key, options)
        const newestFirst = [...(streams.get(key) ?? [])].reverse().slice(0, options?.count ?? Number.POSITIVE_INFINITY)
        return yield* Effect.forEach(newestFirst, ({ id, fields }) => decodeFields(id, fields, key))
      })
    })
  })

/** The history on the environment's Redis, keeping about `historyMaxLength` entries per instance. */
export const layerRedis: Layer.Layer<CommandHistory, never, RedisClient.RedisClient> = Layer.effect(
  CommandHistory,
  makeRedis()
)

/** The history in memory, keeping `historyMaxLength` entries per instance. */
export const layerMemory: Layer.Layer<CommandHistory> = Layer.effect(CommandHistory, makeMemory())

/** The history of `instanceId`, newest first. */
export const history = (
  instanceId: string,
  options?: HistoryOptions
): Effect.Effect<ReadonlyArray<HistoryRecord>, CacheError.CacheError, CommandHistory> =>
  Effect.flatMap(CommandHistory, (store) => store.list(instanceId, options))

// ---------------------------------------------------------------------------------------------------------------
// Metrics

/** Messages on a command channel that were not a valid command. Tag: `instance`. */
export const malformedCommands = Metric.counter("livermore_control_malformed_total", {
  description: "Messages on an instance's control channel that did not decode as a command",
  incremental: true
})

/** Commands finished by an instance. Tags: `instance`, `command`, `outcome` (`succeeded` or `failed`). */
export const commandsFinished = Metric.counter("livermore_control_commands_total", {
  description: "Control commands finished, by command and outcome",
  incremental: true
})

// ---------------------------------------------------------------------------------------------------------------
// Server

/**
 * What the server does with a command. The success value becomes `Succeeded.data` (it must survive
 * `JSON.stringify`; leave it `undefined` for no data); a failure or a defect becomes `Failed` with a one-line
 * message (a string as is, an `Error`'s message, otherwise its tag or JSON).
 */
export type Handler<E, R> = (command: Control.Command) => Effect.Effect<unknown, E, R>

/** How the server runs commands. */
export interface ServeOptions {
  /**
   * Bound on one command: past it the handler is interrupted and the command fails, so a hung command cannot
   * hold `stop` back forever. Default: none (a command may legitimately run long, e.g. a full backfill).
   */
  readonly commandTimeout?: Duration.DurationInput | undefined
}

/** A running control server. */
export interface Server {
  readonly instanceId: string
  /** Messages on the command channel that were not a valid command, since the server started. */
  readonly malformed: Effect.Effect<number>
  /** Commands acknowledged and not yet finished (queued plus the running one). */
  readonly pending: Effect.Effect<number>
}

/** At most this many characters of an error message go into a reply. */
const maxErrorLength = 500

const oneLine = (text: string): string => {
  const flat = text.replace(/\s+/g, " ").trim()
  if (flat === "") return "unknown error"
  return flat.length > maxErrorLength ? `${flat.slice(0, maxErrorLength - 1)}…` : flat
}

const describeError = (error: unknown): string => {
  if (typeof error === "string") return error
  const tag =
    typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
      ? error._tag
      : undefined
  if (error instanceof Error) return error.message !== "" ? error.message : (tag ?? error.name)
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return error.message
  }
  try {
    return JSON.stringify(error) ?? String(error)
  } catch {
    return tag ?? String(error)
  }
}

/** The one-line reason of a failed command: its first typed failure, else its first defect. */
export const describeCause = (cause: Cause.Cause<unknown>): string =>
  oneLine(
    Option.match(Cause.failureOption(cause), {
      onSome: describeError,
      onNone: () =>
        Option.match(Cause.dieOption(cause), {
          onSome: (defect) => `defect: ${describeError(defect)}`,
          onNone: () => "interrupted"
        })
    })
  )

interface Queued {
  readonly seq: number
  readonly priority: number
  readonly command: Control.Command
  readonly receivedAt: DateTime.Utc
}

// Keys must be unique: TPriorityQueue keeps elements that compare equal LIFO, so `seq` makes equal priorities FIFO.
const queueOrder: Order.Order<Queued> = Order.combine(
  Order.reverse(Order.mapInput(Order.number, (queued: Queued) => queued.priority)),
  Order.mapInput(Order.number, (queued: Queued) => queued.seq)
)

/** Back-off between attempts to resubscribe after the command subscription was lost for good. */
const resubscribe = Schedule.exponential("200 millis").pipe(Schedule.either(Schedule.spaced("10 seconds")))

/** Bound on the replies the server sends while it shuts down. */
const shutdownReplyTimeout = Duration.seconds(2)

const encodeReply = Schema.encodeEither(Schema.parseJson(Control.Reply))

const idOf = (message: unknown): string | undefined =>
  typeof message === "object" && message !== null && "id" in message && typeof message.id === "string" && message.id !== ""
    ? message.id
    : undefined

/**
 * Serve `instanceId`'s command channel for as long as the scope lasts. Returns once the subscription is in place,
 * so a command sent after it is heard.
 *
 * Each message is decoded as a `Control.Command`; one that does not decode is logged and counted (and, when it
 * carries an `id`, answered with `Failed` so its sender is not left waiting) and the server carries on. A
 * command is acknowledged at once, then queued by `Control.priority` (FIFO within a priority) for the one
 * worker, which runs commands one at a time through `handler` and replies `Succeeded` or `Failed`; a defect in
 * the handler is a `Failed` too. Every finished command is appended to the history.
 *
 * When the scope closes, the running command is interrupted and it and every queued command are answered with
 * `Failed` and recorded. A `stop` handler should therefore finish (stop the pipeline, release the lock) and let
 * the caller close the server's scope afterwards, rather than close it from inside the handler.
 */
export const serve = <E, R>(
  instanceId: string,
  handler: Handler<E, R>,
  options: ServeOptions = {}
): Effect.Effect<Server, CacheError.CacheError, Bus.Bus | CommandHistory | Scope.Scope | R> =>
  Effect.gen(function* () {
    const bus = yield* Bus.Bus
    const store = yield* CommandHistory
    const queue = yield* STM.commit(TPriorityQueue.empty<Queued>(queueOrder))
    const malformed = yield* Ref.make(0)
    const pending = yield* Ref.make(0)
    let seq = 0
    const commands = commandChannel(instanceId)
    const replies = replyChannel(instanceId)
    const timeout = options.commandTimeout === undefined ? undefined : Duration.decode(options.commandTimeout)

    const reply = (message: Control.Reply) =>
      bus.publish(replies, Control.Reply, message).pipe(
        Effect.tapError((error) =>
          Effect.logWarning("Could not publish a control reply").pipe(
            Effect.annotateLogs({ commandId: message.commandId, reply: message._tag, error: error.message })
          )
        )
      )

    const finish = (queued: Queued, outcome: Exit.Exit<unknown, unknown>) =>
      Effect.gen(function* () {
        const { command } = queued
        const finishedAt = yield* DateTime.now
        const base = { commandId: command.id, instanceId, finishedAt }
        const failed = (error: string) => new Control.Failed({ ...base, error })
        const result: Control.Succeeded | Control.Failed = Exit.match(outcome, {
          onSuccess: (data) => {
            const succeeded = new Control.Succeeded({ ...base, ...(data === undefined ? {} : { data }) })
            // Checked here, not left to the publish, so the history and the reply agree on the outcome.
            return Either.match(encodeReply(succeeded), {
              onLeft: (error) => failed(oneLine(`the result data could not be encoded: ${error.message}`)),
              onRight: () => succeeded
            })
          },
          onFailure: (cause) => failed(describeCause(cause))
        })
        // History first: whoever has the result can already read the command back from the history.
        yield* store
          .record(
            instanceId,
            new HistoryEntry({
              commandId: command.id,
              name: command._tag,
              issuedBy: command.issuedBy,
              issuedAt: command.issuedAt,
              receivedAt: queued.receivedAt,
              finishedAt,
              outcome: result._tag,
              ...(result._tag === "failed" ? { error: result.error } : {})
            })
          )
          .pipe(
            Effect.catchAll((error) =>
              Effect.logWarning("Could not record a control command in the history").pipe(
                Effect.annotateLogs({ commandId: command.id, error: error.message })
              )
            )
          )
        yield* Effect.ignore(reply(result))
        yield* Metric.increment(
          Metric.taggedWithLabels(commandsFinished, [
            MetricLabel.make("instance", instanceId),
            MetricLabel.make("command", command._tag),
            MetricLabel.make("outcome", result._tag)
          ])
        )
        yield* Ref.update(pending, (n) => n - 1)
      })

    const run = (queued: Queued) => {
      // Suspended, so a handler that throws while building its effect is a defect like any other.
      const handled = Effect.suspend(() => handler(queued.command))
      const bounded =
        timeout === undefined
          ? handled
          : Effect.timeoutFail(handled, {
              duration: timeout,
              onTimeout: () => `timed out after ${Duration.format(timeout)}`
            })
      return Effect.exit(bounded).pipe(
        Effect.onInterrupt(() =>
          finish(queued, Exit.fail("interrupted: the control server stopped")).pipe(
            Effect.timeout(shutdownReplyTimeout),
            Effect.ignore
          )
        ),
        Effect.flatMap((exit) => finish(queued, exit)),
        Effect.withSpan("ControlChannel.run", {
          attributes: { instanceId, command: queued.command._tag, commandId: queued.command.id }
        })
      )
    }

    const accept = (command: Control.Command) =>
      Effect.gen(function* () {
        const receivedAt = yield* DateTime.now
        yield* Effect.ignore(reply(new Control.Ack({ commandId: command.id, instanceId, receivedAt })))
        yield* Ref.update(pending, (n) => n + 1)
        seq += 1
        yield* STM.commit(
          TPriorityQueue.offer(queue, { seq, priority: Control.priority(command), command, receivedAt })
        )
      }).pipe(Effect.withSpan("ControlChannel.accept", { attributes: { instanceId, command: command._tag } }))

    const reject = (message: unknown, error: ParseResult.ParseError) =>
      Effect.gen(function* () {
        const reason = oneLine(ParseResult.TreeFormatter.formatErrorSync(error))
        yield* Ref.update(malformed, (n) => n + 1)
        yield* Metric.increment(Metric.tagged(malformedCommands, "instance", instanceId))
        yield* Effect.logWarning("Skipped a malformed control message").pipe(
          Effect.annotateLogs({ channel: commands, error: reason })
        )
        const commandId = idOf(message)
        if (commandId !== undefined) {
          const finishedAt = yield* DateTime.now
          yield* Effect.ignore(
            reply(new Control.Failed({ commandId, instanceId, finishedAt, error: oneLine(`not a valid command: ${reason}`) }))
          )
        }
      })

    const onMessage = (message: unknown) =>
      Schema.decodeUnknown(Control.Command)(message).pipe(
        Effect.matchEffect({ onFailure: (error) => reject(message, error), onSuccess: accept })
      )

    // Registered before the worker and the listener, so it runs after both have stopped.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        const left = yield* STM.commit(TPriorityQueue.takeAll(queue))
        yield* Effect.forEach(left, (queued) => finish(queued, Exit.fail("not run: the control server stopped")), {
          discard: true
        })
      }).pipe(Effect.timeout(shutdownReplyTimeout), Effect.ignore)
    )

    yield* STM.commit(TPriorityQueue.take(queue)).pipe(Effect.flatMap(run), Effect.forever, Effect.forkScoped)

    // The first subscription must be in place before `serve` returns; a later loss resubscribes with back-off.
    const ready = yield* Deferred.make<void, CacheError.CacheError>()
    let subscribed = false
    const listen = Effect.scoped(
      Effect.gen(function* () {
        const messages = yield* bus.subscribe(commands, Schema.Unknown)
        subscribed = true
        yield* Deferred.succeed(ready, undefined)
        yield* Stream.runForEach(messages, onMessage)
      })
    ).pipe(
      Effect.tapError((error) =>
        subscribed
          ? Effect.logError("Lost the control channel subscription; resubscribing").pipe(
              Effect.annotateLogs({ channel: commands, error: error.message })
            )
          : Deferred.fail(ready, error)
      ),
      Effect.retry({ schedule: resubscribe, while: () => subscribed })
    )
    yield* Effect.forkScoped(listen)
    yield* Deferred.await(ready)

    return {
      instanceId,
      malformed: Ref.get(malformed),
      pending: Ref.get(pending)
    } satisfies Server
  }).pipe(Effect.annotateLogs({ instanceId }), Effect.withSpan("ControlChannel.serve", { attributes: { instanceId } }))

/** The server of `instanceId` as a layer: serving starts when the layer is built and stops when it is released. */
export const layer = <E, R>(
  instanceId: string,
  handler: Handler<E, R>,
  options?: ServeOptions
): Layer.Layer<never, CacheError.CacheError, Bus.Bus | CommandHistory | R> =>
  Layer.scopedDiscard(serve(instanceId, handler, options))

// ---------------------------------------------------------------------------------------------------------------
// Client

/** How long `send` waits. */
export interface SendOptions {
  /** For the acknowledgement, from publishing the command. Default `defaultAckTimeout` (2 seconds). */
  readonly ackTimeout?: Duration.DurationInput | undefined
  /**
   * For the result, from the acknowledgement: includes the time the command waits behind others in the
   * instance's queue. Default `defaultResultTimeout` (30 seconds).
   */
  readonly resultTimeout?: Duration.DurationInput | undefined
}

/** An instance on the same Redis answers within milliseconds; 2 s leaves room for a busy event loop. */
export const defaultAckTimeout: Duration.Duration = Duration.seconds(2)

/** Enough for every command but a large backfill; pass a longer `resultTimeout` for those. */
export const defaultResultTimeout: Duration.Duration = Duration.seconds(30)

/**
 * Send `command` to `instanceId` and wait for its result. Subscribes to the replies before publishing, so no
 * reply is missed. Fails with `NoAck` when nothing acknowledges it within `ackTimeout`, `CommandFailed` when the
 * instance reports a failure, and `Control.CommandTimeout` when no result follows the ack within
 * `resultTimeout`. A result arriving without an ack (a command the instance could not decode) is taken as is.
 */
export const send = (
  instanceId: string,
  command: Control.Command,
  options: SendOptions = {}
): Effect.Effect<
  Control.Succeeded,
  NoAck | CommandFailed | Control.CommandTimeout | CacheError.CacheError,
  Bus.Bus
> =>
  Effect.scoped(
    Effect.gen(function* () {
      const bus = yield* Bus.Bus
      const ackTimeout = Duration.decode(options.ackTimeout ?? defaultAckTimeout)
      const resultTimeout = Duration.decode(options.resultTimeout ?? defaultResultTimeout)
      const replies = yield* bus.subscribe(replyChannel(instanceId), Control.Reply)
      const pull = yield* Stream.toPull(replies.pipe(Stream.filter((reply) => reply.commandId === command.id)))
      const buffered: Array<Control.Reply> = []
      const next: Effect.Effect<Control.Reply, CacheError.CacheError> = Effect.suspend(() => {
        const head = buffered.shift()
        if (head !== undefined) return Effect.succeed(head)
        return pull.pipe(
          Effect.catchAll(
            Option.match({
              onNone: () =>
                Effect.fail(
                  new CacheError.CacheError({
                    reason: "Backend",
                    op: "ControlChannel.send",
                    key: replyChannel(instanceId),
                    cause: "the reply subscription ended"
                  })
                ),
              onSome: (error) => Effect.fail(error)
            })
          ),
          Effect.flatMap((chunk) => {
            buffered.push(...chunk)
            return next
          })
        )
      })

      yield* bus.publish(commandChannel(instanceId), Control.Command, command)

      const first = yield* next.pipe(
        Effect.timeoutFail({
          duration: ackTimeout,
          onTimeout: () =>
            new NoAck({
              instanceId,
              commandId: command.id,
              command: command._tag,
              waitedMs: Duration.toMillis(ackTimeout)
            })
        })
      )
      const result =
        first._tag !== "ack"
          ? first
          : yield* next.pipe(
              // A second ack (a duplicate delivery) is not a result.
              Effect.repeat({ until: (reply) => reply._tag !== "ack" }),
              Effect.timeoutFail({
                duration: resultTimeout,
                onTimeout: () =>
                  new Control.CommandTimeout({
                    commandId: command.id,
                    command: command._tag,
                    waitedMs: Duration.toMillis(resultTimeout)
                  })
              })
            )
      if (result._tag === "succeeded") return result
      if (result._tag === "failed") {
        return yield* new CommandFailed({ instanceId, commandId: command.id, command: command._tag, error: result.error })
      }
      // Unreachable: the repeat above only stops on a non-ack.
      return yield* Effect.dieMessage("ControlChannel.send: an ack where a result was expected")
    })
  ).pipe(
    Effect.annotateLogs({ instanceId }),
    Effect.withSpan("ControlChannel.send", { attributes: { instanceId, command: command._tag, commandId: command.id } })
  )
