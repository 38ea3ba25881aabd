/**
 * The REST governor of one exchange: every REST request goes through it, so the exchange's weight budget,
 * `Retry-After`, 429 back-off and 418 bans are respected by all callers together.
 *
 * Budget: a **rolling** 60 s window (a log of sent weights). Any 60 s span then holds at most `weightPerMinute`,
 * so the exchange's own window (Binance counts per fixed UTC minute) can never see more, whatever the clock
 * offset between us and it. The price is that a burst at the end of one minute delays the next by up to 60 s.
 * Weight is booked when a request is sent, whatever its outcome (a rejected request may still count there).
 * An optional `weightPerSecond` adds a rolling 1 s budget for exchanges metered per second (Coinbase).
 *
 * Order: a request first waits for one of `maxConcurrency` slots, then for admission, which one request at a
 * time decides (pause, ban, budget) in roughly arrival order. `stats.queued` counts requests in either wait;
 * `stats.requests` counts requests sent, retries included. A slot is held until the response headers arrive;
 * reading the body is the caller's business.
 */
import { Headers, HttpClient, type HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { Clock, Deferred, Duration, Effect, Option, Ref, type Scope } from "effect"
import type { RestStats } from "./ExchangeAdapter.js"
import { Banned, RateLimited, RequestFailed } from "./ExchangeError.js"

/** How an exchange meters REST use (from its `exchanges` row). */
export interface Options {
  readonly exchange: string
  /** Weight budget per minute (Binance REQUEST_WEIGHT; Coinbase: requests, each of weight 1). */
  readonly weightPerMinute: number
  /** Requests in flight at once. */
  readonly maxConcurrency: number
  /**
   * Also at most this much weight per rolling second (Coinbase public REST: 10 requests/s), so a minute's
   * budget is not spent in one burst. Default: no per-second limit.
   */
  readonly weightPerSecond?: number | undefined
  /**
   * Response header carrying the weight the server has counted this minute (Binance `x-mbx-used-weight-1m`);
   * when present it corrects the local estimate.
   */
  readonly usedWeightHeader?: string | undefined
  /** Retries of one request after 429s before it fails with `RateLimited`. Default 3. */
  readonly maxRetries?: number | undefined
  /**
   * Pause after a 429 that carries no usable `Retry-After`; it doubles with each further 429 in a row (any
   * other response resets it), up to 60 s. Default 1 second.
   */
  readonly defaultRetryAfter?: Duration.DurationInput | undefined
}

/** A governed HTTP client. */
export interface RestGovernor {
  /**
   * Send `request` once `weight` fits the budget. Resolves with a 2xx response. A 429 pauses every request of
   * this exchange for `Retry-After` and retries this one (up to `maxRetries`); a 418 opens a circuit until the
   * ban ends and fails with `Banned` — no retries, and every later request fails at once until then. Any other
   * status or a transport failure fails with `RequestFailed`.
   */
  readonly execute: (
    request: HttpClientRequest.HttpClientRequest,
    weight: number
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, RateLimited | Banned | RequestFailed>
  readonly stats: Effect.Effect<RestStats>
}

/** Length of the rolling budget window. */
export const windowMs = 60_000

/** Ban length assumed when a 418 carries no `Retry-After`: Binance's shortest ban. */
export const defaultBanMs = 120_000

/** Cap of the doubling pause for 429s without `Retry-After`. */
const maxFallbackPauseMs = 60_000

/** Longest body excerpt kept in a `RequestFailed`. */
const excerptLength = 200

/** One admitted request (or the server-reported weight we had not accounted for) in the rolling window. */
interface Spent {
  readonly at: number
  readonly weight: number
}

/** The governor's accounting, in one `Ref` so every decision sees a consistent state. */
interface Ledger {
  /** Sorted by `at`; entries older than the window are pruned lazily. */
  readonly spent: ReadonlyArray<Spent>
  /** No request is sent before this (ms since epoch): the end of the latest 429's `Retry-After`. */
  readonly pausedUntil: number
  /** Every request fails with `Banned` before this (ms since epoch). */
  readonly bannedUntil: number
  /** 429s in a row, for the doubling fallback pause; a burst answered 429 together counts once. */
  readonly consecutive429: number
  /** When the latest pause was booked: a 429 to a request sent before it belongs to the same burst. */
  readonly pauseBookedAt: number
}

/**
 * `Retry-After` as milliseconds: delta-seconds (decimals tolerated) or an HTTP date; `undefined` when absent
 * or unusable.
 */
export const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000)
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** `GET /api/v3/klines`: the method and path only, since the query may carry a signature. */
const describe = (request: HttpClientRequest.HttpClientRequest): string => {
  const path = URL.canParse(request.url) ? new URL(request.url).pathname : (request.url.split("?")[0] ?? "")
  return `${request.method} ${path}`
}

const prune = (spent: ReadonlyArray<Spent>, now: number): ReadonlyArray<Spent> => {
  let first = 0
  while (first < spent.length && spent[first]!.at <= now - windowMs) first++
  return first === 0 ? spent : spent.slice(first)
}

const total = (spent: ReadonlyArray<Spent>): number => spent.reduce((sum, s) => sum + s.weight, 0)

/**
 * How long until `weight` more fits into `limit` over the rolling window of `span` ms: 0 if it fits now.
 * `spent` must be pruned to the last minute (`span` ≤ 60 s). A request heavier than the whole budget is
 * admitted into an empty window rather than waiting forever.
 */
const budgetWait = (spent: ReadonlyArray<Spent>, weight: number, limit: number, span: number, now: number): number => {
  const inSpan = span >= windowMs ? spent : spent.filter((s) => s.at > now - span)
  let excess = total(inSpan) + Math.min(weight, limit) - limit
  if (excess <= 0) return 0
  for (const s of inSpan) {
    excess -= s.weight
    if (excess <= 0) return Math.max(1, s.at + span - now)
  }
  return span
}

/** A governor over the `HttpClient` in context, living as long as the scope. */
export const make = (options: Options): Effect.Effect<RestGovernor, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const exchange = options.exchange
    const limit = Math.max(1, options.weightPerMinute)
    const perSecond = options.weightPerSecond === undefined ? undefined : Math.max(1, options.weightPerSecond)
    const maxRetries = options.maxRetries ?? 3
    const fallbackPauseMs = Duration.toMillis(options.defaultRetryAfter ?? Duration.seconds(1))
    const headerName = options.usedWeightHeader

    const ledger = yield* Ref.make<Ledger>({ spent: [], pausedUntil: 0, bannedUntil: 0, consecutive429: 0, pauseBookedAt: Number.NEGATIVE_INFINITY })
    const counters = yield* Ref.make({ requests: 0, rateLimited: 0, banned: 0, queued: 0 })
    // Completed (and replaced) when a ban starts, so a request asleep on the budget fails at once, not later.
    const banSignal = yield* Ref.make(yield* Deferred.make<void>())
    const slots = yield* Effect.makeSemaphore(Math.max(1, options.maxConcurrency))
    // One request at a time decides whether it may go: that keeps admission in arrival order, so a heavy
    // request is not starved by light ones slipping past it.
    const admission = yield* Effect.makeSemaphore(1)

    const bannedError = (until: number) => new Banned({ exchange, until })

    const failIfBanned = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const { bannedUntil } = yield* Ref.get(ledger)
      if (bannedUntil > now) return yield* Effect.fail(bannedError(bannedUntil))
    })

    /** Wait until a pause is over and `weight` fits, then record it as spent now. Fails if a ban starts. */
    const admit = (weight: number) =>
      admission.withPermits(1)(
        Effect.gen(function* () {
          while (true) {
            yield* failIfBanned
            const now = yield* Clock.currentTimeMillis
            const wait = yield* Ref.modify(ledger, (l): [number, Ledger] => {
              const spent = prune(l.spent, now)
              if (l.pausedUntil > now) return [l.pausedUntil - now, { ...l, spent }]
              const budget = Math.max(
                budgetWait(spent, weight, limit, windowMs, now),
                perSecond === undefined ? 0 : budgetWait(spent, weight, perSecond, 1000, now)
              )
              if (budget > 0) return [budget, { ...l, spent }]
              return [0, { ...l, spent: [...spent, { at: now, weight: Math.max(0, weight) }] }]
            })
            if (wait === 0) return
            const signal = yield* Ref.get(banSignal)
            yield* Effect.raceFirst(Effect.sleep(Duration.millis(wait)), Deferred.await(signal))
          }
        })
      )

    /** Raise the estimate to what the server says it counted in its current UTC minute (never lower it). */
    const correct = (response: HttpClientResponse.HttpClientResponse) =>
      Effect.gen(function* () {
        if (headerName === undefined) return
        const header = Headers.get(response.headers, headerName)
        if (Option.isNone(header)) return
        const reported = Number(header.value)
        if (!Number.isFinite(reported)) return
        const now = yield* Clock.currentTimeMillis
        // Binance counts per fixed UTC minute; weight it reports beyond ours (other processes on this IP) is
        // booked at the minute's start so it leaves our window when the server's minute ends.
        const minuteStart = Math.floor(now / windowMs) * windowMs
        yield* Ref.update(ledger, (l) => {
          const spent = prune(l.spent, now)
          const ours = total(spent.filter((s) => s.at >= minuteStart))
          const unaccounted = reported - ours
          if (unaccounted <= 0) return { ...l, spent }
          const index = spent.findIndex((s) => s.at > minuteStart)
          const entry = { at: minuteStart, weight: unaccounted }
          return {
            ...l,
            spent: index === -1 ? [...spent, entry] : [...spent.slice(0, index), entry, ...spent.slice(index)]
          }
        })
      })

    /** The start of the body, for error messages; the rest is discarded so the connection can be reused. */
    const excerpt = (response: HttpClientResponse.HttpClientResponse) =>
      response.text.pipe(
        Effect.timeout(Duration.seconds(2)),
        Effect.map((text) => text.replace(/\s+/g, " ").trim().slice(0, excerptLength)),
        Effect.orElseSucceed(() => "")
      )

    /**
     * Book what a response says about the budget (used weight, a 429 pause, a 418 ban). Runs while the request
     * still holds its concurrency slot, so no queued request is admitted between the answer and the pause.
     */
    const settle = (response: HttpClientResponse.HttpClientResponse, sentAt: number) =>
      Effect.gen(function* () {
        yield* correct(response)
        const status = response.status
        const now = yield* Clock.currentTimeMillis
        const retryAfterHeader = Option.getOrUndefined(Headers.get(response.headers, "retry-after"))
        if (status === 429) {
          const pausedUntil = yield* Ref.modify(ledger, (l): [number, Ledger] => {
            // Requests in flight together all get 429 for one overload: only the first of them escalates. Nothing is
            // admitted while a pause runs, so a request sent at or before the booking was already in flight.
            const sameBurst = sentAt <= l.pauseBookedAt
            const consecutive429 = sameBurst ? Math.max(1, l.consecutive429) : l.consecutive429 + 1
            const fallback = Math.min(maxFallbackPauseMs, fallbackPauseMs * 2 ** (consecutive429 - 1))
            const until = Math.max(l.pausedUntil, now + (parseRetryAfter(retryAfterHeader, now) ?? fallback))
            return [until, { ...l, consecutive429, pausedUntil: until, pauseBookedAt: sameBurst ? l.pauseBookedAt : now }]
          })
          yield* Ref.update(counters, (c) => ({ ...c, rateLimited: c.rateLimited + 1 }))
          return { _tag: "limited", now, until: pausedUntil } as const
        }
        yield* Ref.update(ledger, (l) => ({ ...l, consecutive429: 0 }))
        if (status === 418) {
          const until = now + (parseRetryAfter(retryAfterHeader, now) ?? defaultBanMs)
          yield* Ref.update(ledger, (l) => ({ ...l, bannedUntil: Math.max(l.bannedUntil, until) }))
          yield* Ref.update(counters, (c) => ({ ...c, banned: c.banned + 1 }))
          const fresh = yield* Deferred.make<void>()
          const woken = yield* Ref.getAndSet(banSignal, fresh)
          yield* Deferred.succeed(woken, undefined)
          return { _tag: "banned", now, until } as const
        }
        return { _tag: "answered", now, until: 0 } as const
      })

    /** Queue for a slot and the budget, then send once. */
    const sendOnce = (request: HttpClientRequest.HttpClientRequest, weight: number, label: string) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const leaveQueue = yield* Effect.once(Ref.update(counters, (c) => ({ ...c, queued: c.queued - 1 })))
          yield* Ref.update(counters, (c) => ({ ...c, queued: c.queued + 1 }))
          return yield* restore(
            slots.withPermits(1)(
              Effect.gen(function* () {
                yield* admit(weight)
                yield* leaveQueue
                yield* Ref.update(counters, (c) => ({ ...c, requests: c.requests + 1 }))
                const sentAt = yield* Clock.currentTimeMillis
                const response = yield* client
                  .execute(request)
                  .pipe(Effect.mapError((cause) => new RequestFailed({ exchange, request: label, cause })))
                return [response, yield* settle(response, sentAt)] as const
              })
            )
          ).pipe(Effect.ensuring(leaveQueue))
        })
      )

    const execute = Effect.fn("RestGovernor.execute")(function* (
      request: HttpClientRequest.HttpClientRequest,
      weight: number
    ) {
      const label = describe(request)
      yield* Effect.annotateCurrentSpan({ exchange, request: label, weight })
      yield* failIfBanned
      let retries = 0
      while (true) {
        const [response, verdict] = yield* sendOnce(request, weight, label)
        const status = response.status
        if (status >= 200 && status < 300) return response

        if (verdict._tag === "limited") {
          yield* excerpt(response)
          const retryAfter = Duration.millis(verdict.until - verdict.now)
          yield* Effect.logWarning("REST rate limited (429); pausing every request of this exchange").pipe(
            Effect.annotateLogs({ exchange, request: label, retryAfter: Duration.format(retryAfter), retries })
          )
          if (retries >= maxRetries) return yield* Effect.fail(new RateLimited({ exchange, retryAfter }))
          retries++
          continue
        }

        if (verdict._tag === "banned") {
          yield* excerpt(response)
          yield* Effect.logError("REST client banned (418); failing every request until the ban ends").pipe(
            Effect.annotateLogs({ exchange, request: label, until: new Date(verdict.until).toISOString() })
          )
          return yield* Effect.fail(bannedError(verdict.until))
        }

        const body = yield* excerpt(response)
        return yield* Effect.fail(
          new RequestFailed({ exchange, request: label, status, cause: body === "" ? `HTTP ${status}` : body })
        )
      }
    })

    const stats = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const l = yield* Ref.get(ledger)
      const c = yield* Ref.get(counters)
      return {
        requests: c.requests,
        usedWeight: total(prune(l.spent, now)),
        weightLimit: limit,
        rateLimited: c.rateLimited,
        banned: c.banned,
        queued: c.queued
      } satisfies RestStats
    })

    return { execute, stats } satisfies RestGovernor
  })
