/**
 * The alert outbox: the alert actor hands each fired alert to `offer`, which never waits, and the outbox stores it
 * (once, domain.md §3) and delivers it to the configured `Notifiers`, recording the outcome in `alert_history`.
 *
 * - One fiber stores, in offer order. A database failure is retried with capped exponential back-off for as long
 *   as the process lives (each failure logged); only an alert the database can never accept (a constraint or data
 *   error, SQLSTATE class 22/23, or a value that does not encode) is logged and dropped.
 * - Only a newly stored alert is delivered; a duplicate offer is stored and delivered once.
 * - A per-series flood breaker (`AlertBreaker`) suppresses delivery while one series fires more than `max`
 *   alerts within `window`; a suppressed alert is stored with `notification_error` saying so.
 * - Deliveries run in their own fibers, at most `concurrency` at a time, so a slow or failing webhook never slows
 *   storing. Every notifier is tried concurrently, each with retries (exponential back-off with jitter, or the
 *   delay the notifier asked for); then the alert is marked notified, or failed with every notifier's error.
 * - At start, alerts stored but never delivered within `redeliverSince` (a crash or restart in between) are
 *   delivered before new ones are stored.
 * - With no notifiers, alerts are only stored (`notification_sent` false, `notification_error` null).
 */
import type { Alert } from "@livermore/domain"
import { AlertsRepo, type StoreError } from "@livermore/store"
import {
  Cause,
  Context,
  Data,
  DateTime,
  Duration,
  Effect,
  Either,
  FiberSet,
  Layer,
  Metric,
  Option,
  ParseResult,
  Queue,
  Random,
  Schedule,
  type Scope,
  Stream,
  SubscriptionRef
} from "effect"
import * as AlertBreaker from "./AlertBreaker.js"
import { type Deliverable, type Notifier, type NotifierError, Notifiers } from "./Notifier.js"

// ---------------------------------------------------------------------------------------------------------------
// Options

/** Back-off of deliveries (and of storing, which retries forever with the same `base` and `cap`). */
export interface RetryOptions {
  /** Attempts per notifier and alert, the first included. A positive integer. Default 5. */
  readonly attempts?: number | undefined
  /** Delay before the second attempt; it doubles with each further one (±20 % jitter). Default 500 ms. */
  readonly base?: Duration.DurationInput | undefined
  /**
   * Longest delay between attempts. Default 30 seconds. A notifier asking for a longer wait (a 429's
   * `retry_after`) is not retried: its error is recorded.
   */
  readonly cap?: Duration.DurationInput | undefined
}

/** Settings of the outbox; every field optional. */
export interface Options {
  readonly retry?: RetryOptions | undefined
  /** The flood breaker. Default: more than 15 alerts of one series within 3 minutes. */
  readonly breaker?: AlertBreaker.Options | undefined
  /** How far back undelivered alerts are redelivered at start (by `triggeredAt`). Default 1 hour. */
  readonly redeliverSince?: Duration.DurationInput | undefined
  /** Alerts being delivered at once. A positive integer. Default 4. */
  readonly concurrency?: number | undefined
  /** How long closing the layer waits for offered alerts to be stored. Default 5 seconds. */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
}

/** The options are unusable; `detail` says which and why. */
export class InvalidOutboxOptions extends Data.TaggedError("InvalidOutboxOptions")<{
  readonly detail: string
}> {
  override get message(): string {
    return `AlertOutbox: ${this.detail}`
  }
}

/** Most undelivered alerts redelivered at start; more are left for the next start, with a warning. */
export const redeliverLimit = 10_000

interface Settings {
  readonly attempts: number
  readonly base: Duration.Duration
  readonly cap: Duration.Duration
  readonly breaker: AlertBreaker.AlertBreaker
  readonly redeliverSince: Duration.Duration
  readonly concurrency: number
  readonly shutdownTimeout: Duration.Duration
}

const duration = (name: string, input: Duration.DurationInput | undefined, fallback: Duration.Duration, zero = false) => {
  const decoded = input === undefined ? Option.some(fallback) : Duration.decodeUnknown(input)
  return Option.isSome(decoded) &&
    Duration.isFinite(decoded.value) &&
    (zero ? Duration.toMillis(decoded.value) >= 0 : Duration.toMillis(decoded.value) > 0)
    ? Effect.succeed(decoded.value)
    : Effect.fail(
        new InvalidOutboxOptions({
          detail: `${name} must be a ${zero ? "non-negative" : "positive"}, finite duration, got ${String(input)}`
        })
      )
}

const positiveInt = (name: string, value: number) =>
  Number.isInteger(value) && value > 0
    ? Effect.succeed(value)
    : Effect.fail(new InvalidOutboxOptions({ detail: `${name} must be a positive integer, got ${value}` }))

const resolve = (options: Options): Effect.Effect<Settings, InvalidOutboxOptions> =>
  Effect.gen(function* () {
    const attempts = yield* positiveInt("retry.attempts", options.retry?.attempts ?? 5)
    const base = yield* duration("retry.base", options.retry?.base, Duration.millis(500))
    const cap = yield* duration("retry.cap", options.retry?.cap, Duration.seconds(30))
    const breaker = yield* Effect.try({
      try: () => AlertBreaker.make(options.breaker),
      catch: (error) => new InvalidOutboxOptions({ detail: `breaker: ${error instanceof Error ? error.message : String(error)}` })
    })
    return {
      attempts,
      base,
      cap: Duration.max(cap, base),
      breaker,
      redeliverSince: yield* duration("redeliverSince", options.redeliverSince, Duration.hours(1), true),
      concurrency: yield* positiveInt("concurrency", options.concurrency ?? 4),
      shutdownTimeout: yield* duration("shutdownTimeout", options.shutdownTimeout, Duration.seconds(5), true)
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// The service

/** Hands fired alerts over for storing and delivery. */
export class AlertOutbox extends Context.Tag("@livermore/engine/AlertOutbox")<
  AlertOutbox,
  {
    /** Queue `alert` for storing and delivery; returns at once (the queue is in memory and unbounded). */
    readonly offer: (alert: Alert.Alert) => Effect.Effect<void>
    /**
     * Wait until every alert offered before this call (and the redelivery at start) has been stored and its
     * delivery settled (notified, failed, suppressed, or not attempted). For tests and clean shutdowns.
     */
    readonly drained: Effect.Effect<void>
  }
>() {
  /** See `layer`. */
  static layer(
    options: Options = {}
  ): Layer.Layer<AlertOutbox, InvalidOutboxOptions, AlertsRepo.AlertsRepo | Notifiers> {
    return layer(options)
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics

/** Alerts newly stored by the outbox. */
export const alertsStored = Metric.counter("livermore_alerts_stored_total", {
  description: "Alerts newly stored in alert_history by the outbox",
  incremental: true
})

/** Settled notifications by outcome (tag `outcome`: `delivered`, `failed`, `suppressed`). */
export const alertNotifications = Metric.counter("livermore_alert_notifications_total", {
  description: "Alert notifications settled, by outcome (delivered, failed, suppressed by the flood breaker)",
  incremental: true
})

// ---------------------------------------------------------------------------------------------------------------
// Implementation

/** Errors from which storing cannot recover by retrying: the database refuses the alert itself. */
const isPermanent = (error: StoreError.StoreError): boolean => {
  if (ParseResult.isParseError(error.cause)) return true
  const state = error.sqlState
  return state !== undefined && (state.startsWith("22") || state.startsWith("23"))
}

const alertAnnotations = (alert: Alert.Alert, id?: number) => ({
  ...(id === undefined ? {} : { alertId: id }),
  exchange: alert.exchangeName,
  symbol: alert.symbol,
  timeframe: alert.timeframe,
  label: alert.label,
  candleOpenTime: alert.candleOpenTime
})

interface Item {
  readonly seq: number
  readonly alert: Alert.Alert
}

/** Build the outbox; its fibers live as long as the scope. */
export const make = (
  options: Options = {}
): Effect.Effect<
  Context.Tag.Service<AlertOutbox>,
  InvalidOutboxOptions,
  AlertsRepo.AlertsRepo | Notifiers | Scope.Scope
> =>
  Effect.gen(function* () {
    const settings = yield* resolve(options)
    const repo = yield* AlertsRepo.AlertsRepo
    const notifiers = yield* Notifiers
    const { breaker } = settings
    const windowText = AlertBreaker.describeWindow(Duration.millis(breaker.windowMs))

    // `drained`: every piece of work (an offer, the redelivery) gets a sequence number; `low` is the smallest one
    // not yet settled (or the next to be given), so "all work before n settled" is `low >= n`. The set iterates in
    // insertion order, which is increasing, so its first element is the smallest.
    let nextSeq = 0
    const unsettled = new Set<number>()
    const low = yield* SubscriptionRef.make(0)
    const begin = (): number => {
      const seq = nextSeq++
      unsettled.add(seq)
      return seq
    }
    const settle = (seq: number) =>
      SubscriptionRef.update(low, () => {
        unsettled.delete(seq)
        const first = unsettled.values().next()
        return first.done ? nextSeq : first.value
      })
    /** Offered alerts not yet through the storing fiber. */
    const unstored = yield* SubscriptionRef.make(0)

    const queue = yield* Queue.unbounded<Item>()
    const deliveries = yield* FiberSet.make<void, never>()
    const permits = yield* Effect.makeSemaphore(settings.concurrency)

    const storeSchedule = Schedule.exponential(settings.base).pipe(
      Schedule.jittered,
      Schedule.modifyDelay((_, delay) => Duration.min(delay, settings.cap))
    )

    /** Retry a database call (other than storing) a few times, then give up with an error log. */
    const recordOutcome = (what: string, effect: Effect.Effect<void, StoreError.StoreError | StoreError.RecordNotFound>) =>
      effect.pipe(
        Effect.tapError((error) => Effect.logWarning(`${what} failed: ${error.message}`)),
        Effect.retry({
          schedule: storeSchedule,
          times: settings.attempts - 1,
          while: (error) => error._tag === "StoreError" && !isPermanent(error)
        }),
        Effect.catchAll((error) =>
          Effect.logError(`${what} not recorded (${error.message}); the alert stays undelivered and is redelivered on restart`)
        )
      )

    /** Delay before attempt `attempt + 1`: `base × 2^(attempt − 1)` within ±20 %, at most `cap`. */
    const backoff = (attempt: number) =>
      Effect.map(Random.nextRange(0.8, 1.2), (jitter) =>
        Duration.min(Duration.millis(Duration.toMillis(settings.base) * 2 ** (attempt - 1) * jitter), settings.cap)
      )

    /** Deliver to one notifier, retrying what is retryable up to `attempts` tries in all. */
    const deliverTo = (notifier: Notifier, delivery: Deliverable): Effect.Effect<void, NotifierError> => {
      const attempt = (n: number): Effect.Effect<void, NotifierError> =>
        notifier.deliver(delivery).pipe(
          Effect.catchAll((error) =>
            Effect.gen(function* () {
              if (!error.retryable || n >= settings.attempts) return yield* error
              const wait = error.retryAfter ?? (yield* backoff(n))
              if (Duration.greaterThan(wait, settings.cap)) return yield* error
              yield* Effect.logWarning(
                `${error.message}; attempt ${n} of ${settings.attempts}, next in ${Duration.format(wait)}`
              )
              yield* Effect.sleep(wait)
              return yield* attempt(n + 1)
            })
          )
        )
      return attempt(1)
    }

    /** Deliver to every notifier at once and record the outcome. */
    const deliver = Effect.fn("AlertOutbox.deliver")(function* (delivery: Deliverable) {
      const results = yield* Effect.forEach(notifiers, (n) => Effect.either(deliverTo(n, delivery)), {
        concurrency: "unbounded"
      })
      const failures = results.flatMap((r) => (Either.isLeft(r) ? [r.left] : []))
      if (failures.length === 0) {
        yield* recordOutcome("Marking the alert notified", repo.markNotified(delivery.id))
        yield* Metric.increment(Metric.tagged(alertNotifications, "outcome", "delivered"))
        yield* Effect.logInfo(`Alert delivered to ${notifiers.map((n) => n.name).join(", ")}`)
        return
      }
      const error = failures.map((f) => f.message).join("; ")
      yield* recordOutcome("Recording the failed notification", repo.markNotificationFailed(delivery.id, error))
      yield* Metric.increment(Metric.tagged(alertNotifications, "outcome", "failed"))
      yield* Effect.logWarning(`Alert not delivered: ${error}`)
    })

    const suppress = Effect.fn("AlertOutbox.suppress")(function* (delivery: Deliverable) {
      const a = delivery.alert
      const reason = `suppressed by the flood breaker: more than ${breaker.max} alerts for ${a.symbol} ${a.timeframe} in ${windowText}`
      yield* recordOutcome("Recording the suppressed notification", repo.markNotificationFailed(delivery.id, reason))
      yield* Metric.increment(Metric.tagged(alertNotifications, "outcome", "suppressed"))
    })

    /**
     * Pass a stored alert through the breaker and start its delivery (or suppression) in a delivery fiber, which
     * runs `settled` when it ends. Returns at once.
     */
    const dispatch = (delivery: Deliverable, settled: Effect.Effect<void>): Effect.Effect<void> =>
      Effect.gen(function* () {
        const a = delivery.alert
        const key = AlertBreaker.seriesKey(a)
        // Measured at the alerts' own firing times (the pipeline's clock), like the rules' cooldowns: a flood is
        // many alerts close together in the market's time, whether they come live or from a repair.
        const decision = breaker.record(key, DateTime.toEpochMillis(a.triggeredAt))
        if (decision.opened) {
          yield* Effect.logWarning(
            `Flood breaker opened for ${a.symbol} ${a.timeframe} on ${a.exchangeName}: more than ${breaker.max} alerts in ${windowText}; delivery suppressed until it calms down`
          )
        }
        if (decision.closed) {
          yield* Effect.logInfo(`Flood breaker closed for ${a.symbol} ${a.timeframe} on ${a.exchangeName}; delivering again`)
        }
        const job = decision.allowed ? deliver(delivery) : suppress(delivery)
        yield* FiberSet.run(
          deliveries,
          permits.withPermits(1)(job).pipe(
            Effect.catchAllCause((cause) =>
              Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("Alert delivery failed unexpectedly", cause)
            ),
            Effect.ensuring(settled),
            Effect.annotateLogs(alertAnnotations(a, delivery.id))
          )
        )
      })

    /** Store `alert`, retrying database failures for ever; None when the database can never accept it. */
    const store = (alert: Alert.Alert) => {
      let failures = 0
      return repo.insertOnce(alert).pipe(
        Effect.tapError((error) =>
          isPermanent(error)
            ? Effect.void
            : Effect.logWarning(`Storing the alert failed (${++failures} so far), retrying: ${error.message}`)
        ),
        Effect.retry({ schedule: storeSchedule, while: (error) => !isPermanent(error) }),
        Effect.map(Option.some),
        Effect.catchAll((error) =>
          Effect.as(Effect.logError(`Alert rejected by the database, not stored: ${error.message}`), Option.none())
        )
      )
    }

    const storeOne = Effect.fn("AlertOutbox.store")(function* (item: Item) {
      const stored = yield* store(item.alert)
      if (Option.isNone(stored)) return yield* settle(item.seq)
      const { id, isNew } = stored.value
      if (!isNew) {
        yield* Effect.logDebug("Alert already stored; not delivered again")
        return yield* settle(item.seq)
      }
      yield* Metric.increment(alertsStored)
      if (notifiers.length === 0) return yield* settle(item.seq)
      yield* dispatch({ id, alert: item.alert }, settle(item.seq))
    })

    /**
     * Deliver alerts stored within `redeliverSince` that were never delivered nor failed (a restart in between);
     * `seq` is settled once every one of them is.
     */
    const redeliver = Effect.fn("AlertOutbox.redeliver")(function* (seq: number) {
      const now = yield* DateTime.now
      const since = DateTime.subtractDuration(now, settings.redeliverSince)
      let failures = 0
      const pending = yield* repo.pendingNotifications({ since, limit: redeliverLimit }).pipe(
        Effect.tapError((error) =>
          isPermanent(error)
            ? Effect.void
            : Effect.logWarning(`Reading undelivered alerts failed (${++failures} so far), retrying: ${error.message}`)
        ),
        Effect.retry({ schedule: storeSchedule, while: (error) => !isPermanent(error) }),
        Effect.catchAll((error) =>
          Effect.as(Effect.logError(`Undelivered alerts not redelivered: ${error.message}`), [])
        )
      )
      if (pending.length === 0) return yield* settle(seq)
      yield* Effect.logInfo(
        `Redelivering ${pending.length} alerts stored since ${DateTime.formatIso(since)} but never delivered`
      )
      if (pending.length === redeliverLimit) {
        yield* Effect.logWarning(`${redeliverLimit} undelivered alerts or more; any newer ones wait for the next start`)
      }
      let left = pending.length
      const settled = Effect.suspend(() => (--left === 0 ? settle(seq) : Effect.void))
      for (const stored of pending) {
        yield* dispatch(stored, settled)
      }
    })

    // Taken now, not in the fiber, so a `drained` right after building waits for the redelivery.
    const redeliverySeq = notifiers.length > 0 ? begin() : undefined
    const run = Effect.gen(function* () {
      if (redeliverySeq !== undefined) {
        // Before storing anything new, so the query only sees alerts of earlier runs.
        yield* redeliver(redeliverySeq).pipe(
          Effect.catchAllDefect((defect) =>
            Effect.zipRight(Effect.logError("Redelivery failed unexpectedly", Cause.die(defect)), settle(redeliverySeq))
          )
        )
      }
      // A defect while handling one alert is logged and the fiber goes on: storing must outlive any one alert.
      return yield* Effect.forever(
        Effect.flatMap(Queue.take(queue), (item) =>
          storeOne(item).pipe(
            Effect.catchAllDefect((defect) =>
              Effect.zipRight(Effect.logError("Storing the alert failed unexpectedly", Cause.die(defect)), settle(item.seq))
            ),
            Effect.annotateLogs(alertAnnotations(item.alert)),
            Effect.ensuring(SubscriptionRef.update(unstored, (n) => n - 1))
          )
        )
      )
    })
    yield* Effect.forkScoped(run)

    // Runs first when the scope closes, while the storing fiber still lives. Finalizers run uninterruptibly, so the
    // wait is made interruptible for the timeout to be able to end it.
    yield* Effect.addFinalizer(() =>
      unstored.changes.pipe(
        Stream.filter((n) => n <= 0),
        Stream.take(1),
        Stream.runDrain,
        Effect.interruptible,
        Effect.timeoutOption(settings.shutdownTimeout),
        Effect.flatMap((done) =>
          Option.isSome(done)
            ? Effect.void
            : Effect.flatMap(SubscriptionRef.get(unstored), (n) =>
                Effect.logWarning(`AlertOutbox closed with ${n} alerts not stored (storing did not finish in time)`)
              )
        )
      )
    )

    return AlertOutbox.of({
      offer: (alert) =>
        Effect.suspend(() => {
          const seq = begin()
          return SubscriptionRef.update(unstored, (n) => n + 1).pipe(Effect.zipRight(Queue.offer(queue, { seq, alert })))
        }).pipe(Effect.asVoid, Effect.uninterruptible),
      drained: Effect.suspend(() => {
        const target = nextSeq
        return low.changes.pipe(
          Stream.filter((l) => l >= target),
          Stream.take(1),
          Stream.runDrain
        )
      })
    })
  })

/**
 * The outbox over the environment's `AlertsRepo` and `Notifiers`. Building it starts the storing fiber (and the
 * redelivery, when there are notifiers); closing it waits up to `shutdownTimeout` for offered alerts to be stored,
 * then interrupts deliveries in flight (their alerts stay undelivered, and are redelivered on the next start).
 */
export const layer = (
  options: Options = {}
): Layer.Layer<AlertOutbox, InvalidOutboxOptions, AlertsRepo.AlertsRepo | Notifiers> =>
  Layer.scoped(AlertOutbox, make(options))
