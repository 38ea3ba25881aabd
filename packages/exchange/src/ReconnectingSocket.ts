/**
 * A WebSocket connection that stays up: exponential back-off with jitter, subscriptions replayed on every
 * connect, a liveness timeout, an outbound message rate, and recycling before the exchange's connection cut.
 * Built on `ws`, which answers server ping frames with pongs (Binance's keepalive) by itself.
 *
 * Buffering: inbound frames go into one bounded queue (`bufferSize`, default 16 384 frames) that the consumer
 * drains. A socket cannot be slowed down without starving its keepalive, so when the consumer falls that far
 * behind the connection is dropped rather than frames silently discarded: everything already queued is still
 * delivered, the socket is terminated and reconnected, and the next `Opened` reports `downSince` = the moment
 * of the overflow, so the engine repairs the interval from REST like any other outage.
 *
 * Reconnecting: the first connect is immediate; every later attempt waits `backoffDelay(step)` (500 ms, 1 s,
 * 2 s, … capped at 30 s by default, each scaled by a random factor in [0.5, 1]). `step` grows with each wait
 * and starts over after a connection that stayed up for at least the cap, so a server that accepts and then
 * drops at once is not hammered. Inbound frames of a new connection are held back until its `Opened` is
 * queued, so `Opened` always precedes them.
 */
import {
  Cause,
  type Clock,
  Data,
  Deferred,
  Duration,
  Effect,
  ExecutionStrategy,
  Exit,
  Option,
  Queue,
  Random,
  Schedule,
  Scope,
  Stream,
  Take
} from "effect"
import WebSocket from "ws"
import { Disconnected } from "./ExchangeError.js"

/** One exchange connection's endpoint, subscriptions and pacing. */
export interface Options {
  /** For errors and log annotations. */
  readonly exchange: string
  /** `ws://` or `wss://` URL. */
  readonly url: string
  /**
   * Text frames to send after each connect, in order (subscribe messages). Evaluated on every connect, so it
   * can read the current desired set. Sent no faster than `outboundPerSecond`.
   */
  readonly onConnect: Effect.Effect<ReadonlyArray<string>>
  /**
   * Most frames the client may send per second (Binance 5, Coinbase 8). Frames are spaced `1 / outboundPerSecond`
   * apart, across reconnects too; 0 or less sends without spacing. Binance also counts the pongs `ws` sends, so
   * leave some headroom there.
   */
  readonly outboundPerSecond: number
  /** No inbound frame (message or ping) for this long → the connection is dead: reconnect. */
  readonly idleTimeout: Duration.DurationInput
  /**
   * Reconnect proactively after this long (Binance cuts at 24 h). The replacement is opened and subscribed
   * while the old connection still delivers; then the old one is closed, so nothing is missed.
   */
  readonly maxLifetime?: Duration.DurationInput | undefined
  /**
   * Frames announcing that the server will close this connection soon (Binance `serverShutdown`): when it
   * returns true for a received frame, the connection is replaced the same seamless way as for `maxLifetime`.
   */
  readonly recycleWhen?: ((text: string) => boolean) | undefined
  /** Back-off between attempts: exponential from `initial` (default 500 ms), capped at `max` (default 30 s), jittered. */
  readonly backoff?: { readonly initial: Duration.DurationInput; readonly max: Duration.DurationInput } | undefined
  /**
   * Consecutive failed attempts before the stream fails with `Disconnected`. Default: never give up. An attempt
   * succeeds once the socket is open and the `onConnect` frames are sent; that resets the count.
   */
  readonly maxAttempts?: number | undefined
  /** Bound on the opening handshake (TCP, TLS, HTTP upgrade). Default 10 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** Inbound frames buffered for a slow consumer before the connection is dropped and reported. Default 16 384. */
  readonly bufferSize?: number | undefined
}

/** What the connection reports. */
export type SocketEvent =
  | {
      readonly _tag: "Opened"
      /** ms since epoch. */
      readonly at: number
      /**
       * For a reconnect: when the previous connection was lost (ms since epoch): the close or error, the last
       * inbound frame for an idle timeout, the overflow for a slow consumer. `undefined` for the first connect
       * and for a seamless replacement (`maxLifetime`, `recycleWhen`), where nothing was missed.
       */
      readonly downSince: number | undefined
    }
  | { readonly _tag: "Message"; readonly text: string }
  | {
      readonly _tag: "Lost"
      /** When the data stopped (ms since epoch); the next `Opened` reports the same moment as `downSince`. */
      readonly since: number
      readonly reason: string
    }

/** Default of `Options.bufferSize`. */
export const defaultBufferSize = 16_384

const defaultInitialBackoff = Duration.millis(500)
const defaultMaxBackoff = Duration.seconds(30)
const defaultConnectTimeout = Duration.seconds(10)
/** How long a clean close may take before the socket is destroyed. */
const closeGrace = Duration.seconds(1)

/**
 * The delay before reconnect attempt `step` (0-based): `initial · 2^step`, capped at `max`, then scaled by a
 * uniform factor in [0.5, 1] ("equal jitter") so that many clients cut at once do not come back in step.
 */
export const backoffDelay = (initialMs: number, maxMs: number, step: number, jitter: number): number =>
  Math.min(maxMs, initialMs * 2 ** Math.min(step, 32)) * (0.5 + 0.5 * jitter)

/** Why a connection ended (or never opened). */
interface Loss {
  readonly reason: string
  /** When the data stopped (ms since epoch). */
  readonly since: number
  readonly cause?: unknown
}

/** One connection: its loss signal and the switch that starts forwarding its buffered frames. */
interface Connection {
  readonly id: number
  readonly lost: Deferred.Deferred<Loss>
  /** Completed when a frame matched `recycleWhen`. */
  readonly recycle: Deferred.Deferred<void>
  /**
   * Hand over the frames received since connect and not yet forwarded (at most a batch), or — when none are
   * left — switch to forwarding straight into the queue and return an empty array. Synchronous, so no frame
   * can slip between the last batch and the switch.
   */
  readonly drainGate: () => ReadonlyArray<SocketEvent>
}

/** A connection that failed before it was ready (internal: the supervisor counts these). */
class AttemptFailed extends Data.TaggedError("AttemptFailed")<{ readonly loss: Loss }> {}

const toText = (data: WebSocket.RawData): string =>
  Array.isArray(data)
    ? Buffer.concat(data).toString("utf8")
    : data instanceof ArrayBuffer
      ? Buffer.from(data).toString("utf8")
      : data.toString("utf8")

/** Read through a function so TS does not keep a narrowed `readyState` across awaits. */
const isClosed = (ws: WebSocket): boolean => ws.readyState === WebSocket.CLOSED

const describeClose = (code: number, reason: Buffer): string =>
  `closed by the server (code ${code}${reason.length > 0 ? `, ${reason.toString("utf8").slice(0, 200)}` : ""})`

/**
 * Connect when pulled; keep connected until the stream is interrupted (which closes the socket). Emits
 * `Opened` after each successful connect (its subscriptions already sent), then every text frame received, and
 * `Lost` as soon as a connection is lost (not for a seamless replacement).
 */
export const make = (options: Options): Stream.Stream<SocketEvent, Disconnected> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const exchange = options.exchange
      const bufferSize = Math.max(1, options.bufferSize ?? defaultBufferSize)
      const queue = yield* Effect.acquireRelease(
        Queue.bounded<Take.Take<SocketEvent, Disconnected>>(bufferSize),
        Queue.shutdown
      )
      // Connections live in a scope made before the supervisor is forked: finalizers run in reverse, so on
      // interruption the supervisor stops first and never sees its sockets closing as a loss to recover from.
      const connections = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
      const clock = yield* Effect.clock
      const supervisor = supervise(options, { queue, bufferSize, connections, clock }).pipe(
        Effect.onExit((exit) =>
          Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)
            ? // Interruptible: if the consumer is gone and the queue full, closing the stream must not hang here.
              Effect.interruptible(Queue.offer(queue, Take.failCause(exit.cause)))
            : Effect.void
        ),
        Effect.annotateLogs({ exchange, url: options.url })
      )
      yield* Effect.forkScoped(supervisor)
      return Stream.fromQueue(queue, { maxChunkSize: 1024 }).pipe(Stream.flattenTake)
    })
  )

interface Shared {
  readonly queue: Queue.Queue<Take.Take<SocketEvent, Disconnected>>
  readonly bufferSize: number
  /** Parent of every connection's scope. */
  readonly connections: Scope.Scope
  readonly clock: Clock.Clock
}

/** The loop that keeps one live connection: connect, watch, replace, back off, give up. Never succeeds. */
const supervise = (options: Options, shared: Shared): Effect.Effect<never, Disconnected> =>
  Effect.gen(function* () {
    const { queue, connections, clock } = shared
    const now = () => clock.unsafeCurrentTimeMillis()
    const initialMs = Duration.toMillis(options.backoff?.initial ?? defaultInitialBackoff)
    const maxMs = Duration.toMillis(options.backoff?.max ?? defaultMaxBackoff)
    const lifetimeMs = options.maxLifetime === undefined ? undefined : Duration.toMillis(options.maxLifetime)
    const spacingMs = options.outboundPerSecond > 0 ? 1000 / options.outboundPerSecond : 0
    const throttle = { nextSendAt: 0 }
    let nextId = 0

    const delayFor = (step: number) =>
      Effect.map(Random.next, (jitter) => Duration.millis(backoffDelay(initialMs, maxMs, step, jitter)))

    /** Open, subscribe, and leave the connection gated (frames held back) in a scope of its own. */
    const establish = Effect.gen(function* () {
      const scope = yield* Scope.fork(connections, ExecutionStrategy.sequential)
      const id = ++nextId
      const exit = yield* Effect.exit(
        Scope.extend(connect(options, shared, id, throttle, spacingMs), scope).pipe(
          Effect.withSpan("ReconnectingSocket.connect", { attributes: { exchange: options.exchange, id } })
        )
      )
      if (Exit.isSuccess(exit)) return { connection: exit.value, scope }
      yield* Scope.close(scope, exit)
      return yield* Effect.failCause(exit.cause)
    })

    /** Emit `Opened`, then the frames held back since connect, then let the connection forward directly. */
    const activate = (connection: Connection, downSince: number | undefined) =>
      Effect.gen(function* () {
        const at = now()
        yield* Queue.offer(queue, Take.of<SocketEvent>({ _tag: "Opened", at, downSince }))
        while (true) {
          const batch = connection.drainGate()
          if (batch.length === 0) break
          yield* Queue.offerAll(queue, batch.map((event) => Take.of(event)))
        }
        yield* Effect.logInfo("WebSocket open").pipe(
          Effect.annotateLogs({ connection: connection.id, downSince: downSince ?? "none" })
        )
        return at
      })

    /** Before a new connection, let a consumer that fell behind catch up (it would overflow again at once). */
    const awaitRoom = Queue.size(queue).pipe(
      Effect.repeat({ until: (size) => size <= shared.bufferSize / 2, schedule: Schedule.spaced("20 millis") })
    )

    let failures = 0
    let step = 0
    let downSince: number | undefined
    let firstAttempt = true

    while (true) {
      // Connect, retrying with back-off until a connection is ready or the attempts run out.
      if (!firstAttempt) yield* Effect.sleep(yield* delayFor(step++))
      firstAttempt = false
      yield* awaitRoom
      const attempt = yield* Effect.either(establish)
      if (attempt._tag === "Left") {
        failures++
        const loss = attempt.left.loss
        yield* Effect.logWarning(`WebSocket connect failed: ${loss.reason}`).pipe(
          Effect.annotateLogs({ failures, maxAttempts: options.maxAttempts ?? "unlimited" })
        )
        if (options.maxAttempts !== undefined && failures >= options.maxAttempts) {
          return yield* Effect.fail(
            new Disconnected({
              exchange: options.exchange,
              reason: `gave up after ${failures} consecutive failed connection attempts; last: ${loss.reason}`,
              cause: loss.cause
            })
          )
        }
        continue
      }
      failures = 0
      let live = attempt.right
      let openedAt = yield* activate(live.connection, downSince)
      downSince = undefined
      let replaceAt = lifetimeMs === undefined ? undefined : openedAt + lifetimeMs

      // Watch the live connection; replace it when it gets old.
      while (true) {
        const aged =
          replaceAt === undefined ? Effect.never : Effect.sleep(Duration.millis(Math.max(0, replaceAt - now())))
        const recycle = Effect.as(Effect.raceFirst(aged, Deferred.await(live.connection.recycle)), "recycle" as const)
        const outcome = yield* Effect.raceFirst(Deferred.await(live.connection.lost), recycle)
        if (outcome !== "recycle") {
          yield* Scope.close(live.scope, Exit.void)
          // A connection that held for a whole back-off cap was healthy: start the next back-off from scratch.
          if (now() - openedAt >= maxMs) step = 0
          downSince = outcome.since
          yield* Effect.logWarning(`WebSocket lost: ${outcome.reason}`).pipe(
            Effect.annotateLogs({ connection: live.connection.id })
          )
          // Said at once, not only at the next `Opened`: a consumer closing candles by time must stop trusting
          // the forming ones now, since their last updates may be gone with the connection.
          yield* Queue.offer(queue, Take.of<SocketEvent>({ _tag: "Lost", since: outcome.since, reason: outcome.reason }))
          break
        }
        const replacement = yield* Effect.either(establish)
        if (replacement._tag === "Left") {
          // The old connection still works: keep it and try again after a back-off.
          const delay = yield* delayFor(step++)
          replaceAt = now() + Duration.toMillis(delay)
          yield* Effect.logWarning(`WebSocket replacement failed: ${replacement.left.loss.reason}`)
          continue
        }
        // If the old connection died while the replacement was being set up, that interval was missed.
        const oldLoss = yield* Deferred.poll(live.connection.lost)
        const missedSince = Option.isSome(oldLoss) ? (yield* oldLoss.value).since : undefined
        yield* Scope.close(live.scope, Exit.void)
        yield* Effect.logInfo("WebSocket replaced (maxLifetime or server notice)").pipe(
          Effect.annotateLogs({ connection: live.connection.id, by: replacement.right.connection.id })
        )
        live = replacement.right
        openedAt = yield* activate(live.connection, missedSince)
        replaceAt = lifetimeMs === undefined ? undefined : openedAt + lifetimeMs
      }
    }
  })

/**
 * Open one socket, wait for the handshake and send the `onConnect` frames, spaced. Inbound frames are held
 * back until `drainGate` switches the connection to forwarding. The scope closes the socket.
 */
const connect = (
  options: Options,
  shared: Shared,
  id: number,
  throttle: { nextSendAt: number },
  spacingMs: number
): Effect.Effect<Connection, AttemptFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const { queue, bufferSize, clock } = shared
    const now = () => clock.unsafeCurrentTimeMillis()
    const idleMs = Duration.toMillis(options.idleTimeout)
    const connectTimeout = Duration.toMillis(options.connectTimeout ?? defaultConnectTimeout)
    const lost = yield* Deferred.make<Loss>()
    const recycle = yield* Deferred.make<void>()
    const opened = yield* Deferred.make<void>()
    const closed = yield* Deferred.make<void>()
    const state = {
      lastInbound: now(),
      forwarding: false,
      /** False once the scope starts closing: late frames of a connection being replaced are not forwarded. */
      active: true,
      /** Set when the scope closes the socket, so the close is not reported as the server's doing. */
      closing: false,
      gate: [] as Array<SocketEvent>
    }

    const lose = (loss: Loss) => {
      // Nothing after a loss is forwarded: the stream resumes at the next `Opened`, which reports the hole.
      state.active = false
      Deferred.unsafeDone(lost, Exit.succeed(loss))
    }

    const ws = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const ws = new WebSocket(options.url, { handshakeTimeout: connectTimeout })
        const overflow = () => {
          lose({ reason: `consumer too slow: ${bufferSize} frames buffered`, since: now() })
          ws.terminate()
        }
        ws.on("open", () => Deferred.unsafeDone(opened, Exit.void))
        ws.on("message", (data) => {
          state.lastInbound = now()
          if (!state.active) return
          // Text frames arrive as Buffers too; binary frames are decoded as UTF-8 the same way.
          const event: SocketEvent = { _tag: "Message", text: toText(data) }
          if (options.recycleWhen?.(event.text) === true) Deferred.unsafeDone(recycle, Exit.void)
          if (!state.forwarding) {
            state.gate.push(event)
            if (state.gate.length > bufferSize) overflow()
          } else if (!Queue.unsafeOffer(queue, Take.of(event))) {
            overflow()
          }
        })
        ws.on("ping", () => {
          state.lastInbound = now()
        })
        ws.on("pong", () => {
          state.lastInbound = now()
        })
        // Also keeps `ws` from throwing: an 'error' event without a listener crashes the process.
        ws.on("error", (error) => lose({ reason: `socket error: ${error.message}`, since: now(), cause: error }))
        ws.on("close", (code, reason) => {
          lose({ reason: state.closing ? "closed by the client" : describeClose(code, reason), since: now() })
          Deferred.unsafeDone(closed, Exit.void)
        })
        return ws
      }),
      (ws) =>
        Effect.gen(function* () {
          state.active = false
          state.closing = true
          if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.CLOSED) {
            ws.terminate()
            return
          }
          if (ws.readyState === WebSocket.OPEN) ws.close(1000, "client closing")
          // A polite close waits for the server's answer, but never for long: then the socket is destroyed.
          yield* Deferred.await(closed).pipe(Effect.interruptible, Effect.timeout(closeGrace), Effect.ignore)
          if (!isClosed(ws)) ws.terminate()
        })
    )

    const failOnLoss = Effect.flatMap(Deferred.await(lost), (loss) => Effect.fail(new AttemptFailed({ loss })))

    yield* Effect.raceFirst(
      Deferred.await(opened),
      Effect.raceFirst(
        failOnLoss,
        Effect.sleep(Duration.millis(connectTimeout)).pipe(
          Effect.zipRight(
            Effect.suspend(() =>
              Effect.fail(new AttemptFailed({ loss: { reason: "handshake timed out", since: now() } }))
            )
          )
        )
      )
    )
    state.lastInbound = now()

    // The idle watchdog lives as long as the connection's scope.
    yield* Effect.forkScoped(
      Effect.gen(function* () {
        while (true) {
          const due = state.lastInbound + idleMs
          const current = now()
          if (current >= due) {
            const reason = `no inbound frame for ${Duration.format(Duration.millis(idleMs))}`
            lose({ reason, since: state.lastInbound })
            ws.terminate()
            return
          }
          yield* Effect.sleep(Duration.millis(due - current))
        }
      })
    )

    const send = (frame: string) =>
      Effect.gen(function* () {
        const wait = throttle.nextSendAt - now()
        if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
        throttle.nextSendAt = now() + spacingMs
        yield* Effect.async<void, AttemptFailed>((resume) => {
          ws.send(frame, (error) =>
            resume(
              error === undefined || error === null
                ? Effect.void
                : Effect.fail(
                    new AttemptFailed({
                      loss: { reason: `send failed: ${error.message}`, since: now(), cause: error }
                    })
                  )
            )
          )
        })
      })

    const frames = yield* options.onConnect
    yield* Effect.raceFirst(Effect.forEach(frames, send, { discard: true }), failOnLoss)

    return {
      id,
      lost,
      recycle,
      drainGate: () => {
        if (state.gate.length === 0) {
          state.forwarding = true
          return []
        }
        return state.gate.splice(0, 1024)
      }
    } satisfies Connection
  })
