/**
 * The control channel, one behavioural suite run on the memory Bus and history and on a real Redis at REDIS_URL
 * (default redis://127.0.0.1:6379, under a namespace unique to this run that is deleted afterwards), plus what
 * only Redis can show: physical names, non-JSON messages, corrupt history entries, approximate trimming.
 * Waits use generous bounds; nothing asserts on speed.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Bus, RedisClient } from "@livermore/cache"
import { Control, Market } from "@livermore/domain"
import {
  Cause,
  type Context,
  DateTime,
  Deferred,
  Effect,
  Exit,
  Fiber,
  Layer,
  ManagedRuntime,
  Option,
  Ref,
  Schema,
  Scope,
  Stream,
  SubscriptionRef
} from "effect"
import * as ControlChannel from "../src/ControlChannel.js"
import { freshPrefix, redisLayer } from "./redisNamespace.js"

type Env = Bus.Bus | ControlChannel.CommandHistory

/** Long enough for any healthy run; a wait that reaches it is a failure, not a slow pass. */
const patience = "10 seconds"
const generous = { ackTimeout: patience, resultTimeout: "20 seconds" } as const

const freshInstance = () => `instance-${crypto.randomUUID()}`

const meta = (issuedBy = "tester") => ({ id: crypto.randomUUID(), issuedAt: DateTime.unsafeNow(), issuedBy })
const pause = (issuedBy?: string) => new Control.Pause(meta(issuedBy))
const resume = () => new Control.Resume(meta())
const status = (issuedBy?: string) => new Control.GetStatus(meta(issuedBy))
const stop = (reason = "taking over") => new Control.Stop({ ...meta(), reason })
const clearCache = () => new Control.ClearCache(meta())
const reloadSettings = () => new Control.ReloadSettings(meta())

/** Wait until `ref` holds a value `pick` finds something in; fail (the test) after `patience`. */
const waitFor = <A, B>(ref: SubscriptionRef.SubscriptionRef<A>, pick: (a: A) => Option.Option<B>, what: string) =>
  ref.changes.pipe(
    Stream.filterMap(pick),
    Stream.runHead,
    Effect.flatten,
    Effect.timeoutFail({ duration: patience, onTimeout: () => new Error(`timed out waiting for ${what}`) }),
    Effect.catchTag("NoSuchElementException", () => Effect.fail(new Error(`stopped waiting for ${what}`)))
  )

/** Every reply published for `instanceId` from now on, as an observer (not a sender) sees them. */
const watchReplies = (instanceId: string) =>
  Effect.gen(function* () {
    const bus = yield* Bus.Bus
    const seen = yield* SubscriptionRef.make<ReadonlyArray<Control.Reply>>([])
    const replies = yield* bus.subscribe(ControlChannel.replyChannel(instanceId), Control.Reply)
    yield* replies.pipe(
      Stream.runForEach((reply) => SubscriptionRef.update(seen, (all) => [...all, reply])),
      Effect.forkScoped
    )
    const of = (commandId: string) =>
      Effect.map(SubscriptionRef.get(seen), (all) => all.filter((reply) => reply.commandId === commandId))
    return {
      /** The replies to `commandId` so far, in order. */
      of,
      /** Wait for a reply to `commandId` with the tag `tag`. */
      await: <T extends Control.Reply["_tag"]>(commandId: string, tag: T) =>
        waitFor(
          seen,
          (all) =>
            Option.fromNullable(
              all.find((reply): reply is Extract<Control.Reply, { _tag: T }> =>
                reply.commandId === commandId && reply._tag === tag
              )
            ),
          `${tag} of ${commandId}`
        )
    }
  })

/** A handler that logs what it starts, and holds `pause` until the gate opens. */
const gated = Effect.gen(function* () {
  const gate = yield* Deferred.make<void>()
  const started = yield* SubscriptionRef.make<ReadonlyArray<string>>([])
  const handler = (command: Control.Command) =>
    SubscriptionRef.update(started, (all) => [...all, command.id]).pipe(
      Effect.zipRight(command._tag === "pause" ? Deferred.await(gate) : Effect.void),
      Effect.as(`${command._tag} done`)
    )
  const hasStarted = (commandId: string) =>
    waitFor(started, (all) => (all.includes(commandId) ? Option.some(true) : Option.none()), `${commandId} to start`)
  return { gate, started, handler, hasStarted }
})

const suite = <R>(
  name: string,
  services: Layer.Layer<Env | R, unknown>,
  makeHistory: (
    options: ControlChannel.HistoryStoreOptions
  ) => Effect.Effect<Context.Tag.Service<ControlChannel.CommandHistory>, never, R>,
  trimIsExact: boolean,
  extra?: (test: <A, E>(title: string, body: () => Effect.Effect<A, E, Env | R | Scope.Scope>) => void) => void
) =>
  describe(name, () => {
    // Built once, when the first test needs it; each test awaits the build, so a missing Redis fails every test.
    const runtime = ManagedRuntime.make(services)
    afterAll(() => runtime.dispose(), 30_000)
    const test = <A, E>(title: string, body: () => Effect.Effect<A, E, Env | R | Scope.Scope>) =>
      it.scopedLive(title, () => body().pipe(Effect.provide(runtime)), 60_000)

    test("acknowledges at once, before the command has run; the result follows the ack", () =>
      Effect.gen(function* () {
        const instanceId = freshInstance()
        const { gate, handler, hasStarted } = yield* gated
        yield* ControlChannel.serve(instanceId, handler)
        const replies = yield* watchReplies(instanceId)
        const command = pause()
        const sending = yield* Effect.fork(ControlChannel.send(instanceId, command, generous))

        yield* replies.await(command.id, "ack")
        yield* hasStarted(command.id)
        // The handler is held at the gate, so everything seen so far was sent before the command finished.
        assert.deepStrictEqual((yield* replies.of(command.id)).map((reply) => reply._tag), ["ack"])
        assert.isTrue(Option.isNone(yield* Fiber.poll(sending)), "send must wait for the result, not return on the ack")

        yield* Deferred.succeed(gate, undefined)
        const result = yield* Fiber.join(sending)
        assert.strictEqual(result._tag, "succeeded")
        assert.strictEqual(result.data, "pause done")
        yield* replies.await(command.id, "succeeded")
        assert.deepStrictEqual((yield* replies.of(command.id)).map((reply) => reply._tag), ["ack", "succeeded"])
        const [ack] = yield* replies.of(command.id)
        assert.strictEqual(ack?._tag === "ack" ? ack.instanceId : undefined, instanceId)
      })
    )

    test("result data round-trips, and the handler receives the decoded command", () =>
      Effect.gen(function* () {
        const instanceId = freshInstance()
        const received = yield* Ref.make<ReadonlyArray<Control.Command>>([])
        const payload = { state: "active", symbols: 25, ratio: 0.5, ok: true, none: null, nested: { list: [1, "two", { three: 3 }] } }
        yield* ControlChannel.serve(instanceId, (command) =>
          Ref.update(received, (all) => [...all, command]).pipe(
            Effect.as(
              command._tag === "status"
                ? payload
                : command._tag === "force-backfill"
                  ? { symbols: command.symbols, timeframes: command.timeframes }
                  : undefined
            )
          )
        )

        const asked = status()
        const answer = yield* ControlChannel.send(instanceId, asked, generous)
        assert.strictEqual(answer.commandId, asked.id)
        assert.strictEqual(answer.instanceId, instanceId)
        assert.deepStrictEqual(answer.data, payload)

        const backfill = new Control.ForceBackfill({
          ...meta(),
          symbols: [Market.SymbolId.make("BTC-USD"), Market.SymbolId.make("ETH-USD")],
          timeframes: ["1h", "5m"]
        })
        const backfilled = yield* ControlChannel.send(instanceId, backfill, generous)
        assert.deepStrictEqual(backfilled.data, { symbols: ["BTC-USD", "ETH-USD"], timeframes: ["1h", "5m"] })

        const stopping = stop("maintenance window")
        const stopped = yield* ControlChannel.send(instanceId, stopping, generous)
        assert.isFalse("data" in stopped, "a handler returning nothing gives a result without data")

        const [first, second, third] = yield* Ref.get(received)
        assert.instanceOf(first, Control.GetStatus)
        assert.instanceOf(second, Control.ForceBackfill)
        assert.instanceOf(third, Control.Stop)
        assert.strictEqual(third?._tag === "stop" ? third.reason : undefined, "maintenance window")
        assert.strictEqual(third?.issuedBy, "tester")
        assert.strictEqual(
          DateTime.toEpochMillis(third!.issuedAt),
          DateTime.toEpochMillis(stopping.issuedAt),
          "issuedAt survives the wire"
        )
      })
    )

    test("a failing or dying handler gives CommandFailed with a one-line message; the server keeps serving", () =>
      Effect.gen(function* () {
        const instanceId = freshInstance()
        yield* ControlChannel.serve(instanceId, (command): Effect.Effect<unknown, Error | string> => {
          switch (command._tag) {
            case "pause":
              return Effect.fail(new Error("exchange\n   unreachable"))
            case "resume":
              return Effect.fail("not paused")
            case "clear-cache":
              return Effect.die(new Error("boom"))
            case "reload-settings":
              throw new Error("thrown while building the effect")
            default:
              return Effect.succeed("alive")
          }
        })

        const paused = pause()
        const failed = yield* Effect.flip(ControlChannel.send(instanceId, paused, generous))
        assert.strictEqual(failed._tag, "CommandFailed")
        if (failed._tag !== "CommandFailed") return
        assert.strictEqual(failed.error, "exchange unreachable")
        assert.strictEqual(failed.instanceId, instanceId)
        assert.strictEqual(failed.commandId, paused.id)
        assert.strictEqual(failed.command, "pause")
        assert.include(failed.message, "exchange unreachable")

        const notPaused = yield* Effect.flip(ControlChannel.send(instanceId, resume(), generous))
        assert.strictEqual(notPaused._tag === "CommandFailed" ? notPaused.error : notPaused._tag, "not paused")

        const died = yield* Effect.flip(ControlChannel.send(instanceId, clearCache(), generous))
        assert.strictEqual(died._tag === "CommandFailed" ? died.error : died._tag, "defect: boom")

        const threw = yield* Effect.flip(ControlChannel.send(instanceId, reloadSettings(), generous))
        assert.strictEqual(
          threw._tag === "CommandFailed" ? threw.error : threw._tag,
          "defect: thrown while building the effect"
        )

        const after = yield* ControlChannel.send(instanceId, status(), generous)
        assert.strictEqual(after.data, "alive")
      })
    )

    test("a command that never finishes ends in CommandTimeout for the sender", () =>
      Effect.gen(function* () {
        const instanceId = freshInstance()
        yield* ControlChannel.serve(instanceId, () => Effect.never)
        const command = pause()
        const error = yield* Effect.flip(
          ControlChannel.send(instanceId, command, { ackTimeout: patience, resultTimeout: "500 millis" })
        )
        assert.strictEqual(error._tag, "CommandTimeout")
        if (error._tag !== "CommandTimeout") return
        assert.strictEqual(error.commandId, command.id)
        assert.strictEqual(error.command, "pause")
        assert.strictEqual(error.waitedMs, 500)
      })
    )

    test("the server's command timeout interrupts a hung command, so later commands still run", () =>
      Effect.gen(function* () {
        const instanceId = freshInstance()
        const interrupted = yield* Deferred.make<void>()
        yield* ControlChannel.serve(
          instanceId,
          (command) =>
            command._tag === "pause"
              ? Effect.never.pipe(Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)))
              : Effect.succeed("ran"),
          { commandTimeout: "300 millis" }
        )
        const hung = yield* Effect.flip(ControlChannel.send(instanceId, pause(), generous))
        assert.strictEqual(hung._tag === "CommandFailed" ? hung.error : hung._tag, "timed out after 300ms")
        assert.isTrue(yield* Deferred.isDone(interrupted), "the hung handler was interrupted")
        const next = yield* ControlChannel.send(instanceId, stop(), generous)
        assert.strictEqual(next.data, "ran")
      })
    )

    test("with no server listening, send fails with NoAck naming the instance", () =>
      Effect.gen(function* () {
        const instanceId = freshInstance()
        const command = stop()
        const error = yield* Effect.flip(
          ControlChannel.send(instanceId, command, { ackTimeout: "300 millis", resultTimeout: patience })
        )
        assert.strictEqual(error._tag, "NoAck")
        if (error._tag !== "NoAck") return
        assert.strictEqual(error.instanceId, instanceId)
        assert.strictEqual(error.commandId, command.id)
        assert.strictEqual(error.command, "stop")
        assert.include(error.message, instanceId)
      })
    )

    test("stop overtakes queued commands, status comes next, equal priorities keep their order", () =>
      Effect.gen(function* () {
        const instanceId = freshInstance()
        const { gate, started, handler, hasStarted } = yield* gated
        const server = yield* ControlChannel.serve(instanceId, handler)
        const replies = yield* watchReplies(instanceId)

        const running = pause()
        const queued = [resume(), clearCache(), status(), reloadSettings(), stop()]
        const sends = [yield* Effect.fork(ControlChannel.send(instanceId, running, generous))]
        yield* hasStarted(running.id)
        for (const command of queued) {
          sends.push(yield* Effect.fork(ControlChannel.send(instanceId, command, generous)))
          // One at a time, so the server receives them in this order.
          yield* replies.await(command.id, "ack")
        }
        assert.strictEqual(yield* server.pending, 6, "all five are queued behind the running one")
        assert.deepStrictEqual(yield* SubscriptionRef.get(started), [running.id], "nothing else ran meanwhile")

        yield* Deferred.succeed(gate, undefined)
        const results = yield* Fiber.joinAll(sends)
        assert.isTrue(results.every((result) => result._tag === "succeeded"))

        const [resumed, cleared, asked, reloaded, stopped] = queued
        assert.deepStrictEqual(yield* SubscriptionRef.get(started), [
          running.id,
          stopped!.id,
          asked!.id,
          resumed!.id,
          cleared!.id,
          reloaded!.id
        ])
        assert.strictEqual(yield* server.pending, 0)
      })
    )

    test("malformed messages are logged and counted, answered when they carry an id, and do not stop the server", () =>
      Effect.gen(function* () {
        const instanceId = freshInstance()
        const server = yield* ControlChannel.serve(instanceId, () => Effect.succeed("still here"))
        const replies = yield* watchReplies(instanceId)
        const bus = yield* Bus.Bus
        const channel = ControlChannel.commandChannel(instanceId)
        const unknownId = `bad-${crypto.randomUUID()}`
        const missingFieldId = `bad-${crypto.randomUUID()}`
        const good = stop()
        const { reason: _reason, ...withoutReason } = yield* Schema.encode(Control.Stop)(stop())

        yield* bus.publish(channel, Schema.Unknown, { _tag: "self-destruct", id: unknownId })
        yield* bus.publish(channel, Schema.Unknown, { nonsense: true })
        yield* bus.publish(channel, Schema.Unknown, "just a string")
        yield* bus.publish(channel, Schema.Unknown, { ...withoutReason, id: missingFieldId })

        const rejected = yield* replies.await(unknownId, "failed")
        assert.include(rejected.error, "not a valid command")
        assert.notInclude(rejected.error, "\n")
        yield* replies.await(missingFieldId, "failed")

        const after = yield* ControlChannel.send(instanceId, good, generous)
        assert.strictEqual(after.data, "still here")
        // Messages are handled in order, so all four were seen before the good command was acknowledged.
        assert.strictEqual(yield* server.malformed, 4)
        const history = yield* ControlChannel.history(instanceId)
        assert.deepStrictEqual(
          history.map((record) => record.entry.commandId),
          [good.id],
          "only commands are recorded"
        )
      })
    )

    test("the history lists finished commands newest first, with outcomes and errors", () =>
      Effect.gen(function* () {
        const instanceId = freshInstance()
        yield* ControlChannel.serve(instanceId, (command) =>
          command._tag === "pause" ? Effect.fail("cannot pause while warming") : Effect.succeed({ ok: true })
        )
        const first = status("alice")
        const second = pause("bob")
        const third = stop()
        yield* ControlChannel.send(instanceId, first, generous)
        yield* Effect.flip(ControlChannel.send(instanceId, second, generous))
        yield* ControlChannel.send(instanceId, third, generous)

        const history = yield* ControlChannel.history(instanceId)
        assert.deepStrictEqual(
          history.map(({ entry }) => [entry.commandId, entry.name, entry.outcome, entry.error ?? null, entry.issuedBy]),
          [
            [third.id, "stop", "succeeded", null, "tester"],
            [second.id, "pause", "failed", "cannot pause while warming", "bob"],
            [first.id, "status", "succeeded", null, "alice"]
          ]
        )
        for (const { entry } of history) {
          assert.instanceOf(entry, ControlChannel.HistoryEntry)
          assert.isAtMost(DateTime.toEpochMillis(entry.receivedAt), DateTime.toEpochMillis(entry.finishedAt))
        }
        assert.strictEqual(DateTime.toEpochMillis(history[2]!.entry.issuedAt), DateTime.toEpochMillis(first.issuedAt))
        const ids = history.map((record) => record.id)
        assert.strictEqual(new Set(ids).size, 3, "each entry has its own stream id")

        const newest = yield* ControlChannel.history(instanceId, { count: 2 })
        assert.deepStrictEqual(
          newest.map(({ entry }) => entry.commandId),
          [third.id, second.id]
        )
        assert.deepStrictEqual(yield* ControlChannel.history(freshInstance()), [], "another instance has no history")
        const bad = yield* Effect.flip(ControlChannel.history(instanceId, { count: 0 }))
        assert.strictEqual(bad.reason, "Argument")
      })
    )

    test("closing the server answers the running command and the queued ones with Failed, and records them", () =>
      Effect.gen(function* () {
        const instanceId = freshInstance()
        const { handler, hasStarted } = yield* gated
        const scope = yield* Scope.make()
        yield* ControlChannel.serve(instanceId, handler).pipe(Scope.extend(scope))
        const replies = yield* watchReplies(instanceId)

        const running = pause()
        const waiting = status()
        const runningSend = yield* Effect.fork(ControlChannel.send(instanceId, running, generous))
        yield* hasStarted(running.id)
        const waitingSend = yield* Effect.fork(ControlChannel.send(instanceId, waiting, generous))
        yield* replies.await(waiting.id, "ack")

        yield* Scope.close(scope, Exit.void)
        const interrupted = yield* Effect.flip(Fiber.join(runningSend))
        const dropped = yield* Effect.flip(Fiber.join(waitingSend))
        assert.strictEqual(
          interrupted._tag === "CommandFailed" ? interrupted.error : interrupted._tag,
          "interrupted: the control server stopped"
        )
        assert.strictEqual(dropped._tag === "CommandFailed" ? dropped.error : dropped._tag, "not run: the control server stopped")

        const history = yield* ControlChannel.history(instanceId)
        assert.deepStrictEqual(
          history.map(({ entry }) => [entry.commandId, entry.outcome]),
          [
            [waiting.id, "failed"],
            [running.id, "failed"]
          ]
        )
        const gone = yield* Effect.flip(ControlChannel.send(instanceId, status(), { ackTimeout: "300 millis" }))
        assert.strictEqual(gone._tag, "NoAck", "a closed server no longer listens")
      })
    )

    test("a result whose data cannot be encoded is reported as a failure, in the reply and the history", () =>
      Effect.gen(function* () {
        const instanceId = freshInstance()
        yield* ControlChannel.serve(instanceId, (command) =>
          command._tag === "status" ? Effect.succeed({ big: BigInt(1) }) : Effect.succeed("fine")
        )
        const asked = status()
        const error = yield* Effect.flip(ControlChannel.send(instanceId, asked, generous))
        assert.strictEqual(error._tag, "CommandFailed")
        assert.include(error._tag === "CommandFailed" ? error.error : "", "could not be encoded")
        const [record] = yield* ControlChannel.history(instanceId)
        assert.strictEqual(record?.entry.outcome, "failed")
        assert.strictEqual((yield* ControlChannel.send(instanceId, stop(), generous)).data, "fine")
      })
    )

    test("the history is trimmed to its maximum length, keeping the newest", () =>
      Effect.gen(function* () {
        const store = yield* makeHistory({ maxLength: 5 })
        const instanceId = freshInstance()
        for (let n = 0; n < 300; n++) yield* store.record(instanceId, entryAt(n))
        const kept = yield* store.list(instanceId)
        if (trimIsExact) assert.strictEqual(kept.length, 5)
        else assert.isBelow(kept.length, 300, "MAXLEN ~ trims whole stream nodes, so some older entries may remain")
        assert.deepStrictEqual(
          kept.slice(0, 5).map(({ entry }) => entry.commandId),
          [299, 298, 297, 296, 295].map((n) => `command-${n}`)
        )
        const invalid = yield* Effect.exit(makeHistory({ maxLength: 0 }))
        assert.isTrue(Exit.isFailure(invalid) && Cause.isDie(invalid.cause), "a zero length is a programming error")
      })
    )

    extra?.(test)
  })

const entryAt = (n: number) =>
  new ControlChannel.HistoryEntry({
    commandId: `command-${n}`,
    name: "status",
    issuedBy: "tester",
    issuedAt: DateTime.unsafeMake(1_700_000_000_000 + n),
    receivedAt: DateTime.unsafeMake(1_700_000_000_000 + n),
    finishedAt: DateTime.unsafeMake(1_700_000_000_001 + n),
    outcome: "succeeded"
  })

// ---------------------------------------------------------------------------------------------------------------

const Memory = Layer.mergeAll(Bus.layerMemory, ControlChannel.layerMemory)

suite("control channel on the memory Bus", Memory, ControlChannel.makeMemory, true)

const prefix = freshPrefix("control")

const Live = Layer.mergeAll(Bus.layerRedis, ControlChannel.layerRedis).pipe(
  Layer.provideMerge(redisLayer("control", prefix))
)

const raw = <A>(f: (redis: RedisClient.Connection["redis"]) => Promise<A>) =>
  Effect.flatMap(RedisClient.RedisClient, (redis) => redis.use("test.raw", f))

suite("control channel on Redis", Live, ControlChannel.makeRedis, false, (test) => {
  test("uses channel:control:{id}, channel:control:{id}:replies and control:history:{id} under the prefix", () =>
    Effect.gen(function* () {
      const redis = yield* RedisClient.RedisClient
      const instanceId = freshInstance()
      assert.strictEqual(ControlChannel.commandChannel(instanceId), `channel:control:${instanceId}`)
      assert.strictEqual(ControlChannel.replyChannel(instanceId), `channel:control:${instanceId}:replies`)
      assert.strictEqual(ControlChannel.historyKey(instanceId), `control:history:${instanceId}`)
      yield* ControlChannel.serve(instanceId, () => Effect.succeed("raw ok"))
      const replies = yield* watchReplies(instanceId)

      // A command published by hand on the physical channel is served like one from `send`.
      const command = status()
      const json = JSON.stringify(yield* Schema.encode(Control.Command)(command))
      const receivers = yield* raw((r) => r.publish(`${prefix}channel:control:${instanceId}`, json))
      assert.strictEqual(receivers, 1, "exactly the server listens on the command channel")
      const done = yield* replies.await(command.id, "succeeded")
      assert.strictEqual(done.data, "raw ok")

      const historyKey = `${prefix}control:history:${instanceId}`
      assert.strictEqual(redis.key(ControlChannel.historyKey(instanceId)), historyKey)
      assert.strictEqual(yield* raw((r) => r.type(historyKey)), "stream")
      const [[, fields] = ["", []]] = yield* raw((r) => r.xrange(historyKey, "-", "+"))
      assert.includeMembers([...fields], ["commandId", command.id, "name", "status", "outcome", "succeeded"])
    })
  )

  test("a message that is not even JSON is dropped without stopping the server", () =>
    Effect.gen(function* () {
      const instanceId = freshInstance()
      yield* ControlChannel.serve(instanceId, () => Effect.succeed("alive"))
      const receivers = yield* raw((r) => r.publish(`${prefix}channel:control:${instanceId}`, "{not json"))
      assert.strictEqual(receivers, 1)
      const after = yield* ControlChannel.send(instanceId, status(), generous)
      assert.strictEqual(after.data, "alive")
    })
  )

  test("a corrupt history entry is a Decode error, not a silent gap", () =>
    Effect.gen(function* () {
      const instanceId = freshInstance()
      yield* raw((r) => r.xadd(`${prefix}control:history:${instanceId}`, "*", "commandId", "x", "name", "explode"))
      const error = yield* Effect.flip(ControlChannel.history(instanceId))
      assert.strictEqual(error.reason, "Decode")
    })
  )
})
