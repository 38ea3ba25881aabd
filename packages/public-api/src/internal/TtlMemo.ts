/**
 * A small keyed memo for values read on every request and reused for a fixed time: a hit is one `Effect.succeed`
 * (the bench showed each `effect/Cache` lookup — clock, hashing, a deferred — at tens of µs per request, with three
 * on the candles path); concurrent misses of one key share one lookup; failures are not kept; past `capacity`, the
 * oldest entry goes first.
 *
 * Time is `Date.now()`, not the `Clock` service: the memo only decides reuse of a fresh read, never what a client
 * sees as time, and reading the service is itself a runtime step per request.
 */
import { Deferred, Effect, Exit } from "effect"

type Entry<A, E> =
  | { readonly _tag: "Ready"; readonly value: A; readonly until: number }
  | { readonly _tag: "Pending"; readonly deferred: Deferred.Deferred<A, E> }

export interface TtlMemo<A, E> {
  /** The value of `key`, from `lookup` when it has none younger than the time to live. */
  readonly get: <R>(key: string, lookup: () => Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Forget every value (the next `get` of each key looks up again). */
  readonly clear: () => void
}

export const make = <A, E>(options: { readonly timeToLiveMs: number; readonly capacity: number }): TtlMemo<A, E> => {
  const entries = new Map<string, Entry<A, E>>()

  // The lookup runs in a fiber of its own: a request interrupted while waiting (its client went away) must not
  // interrupt the lookup the other waiters share.
  const settle = <R>(key: string, lookup: () => Effect.Effect<A, E, R>) =>
    Effect.flatMap(Deferred.make<A, E>(), (deferred) => {
      entries.set(key, { _tag: "Pending", deferred })
      const run = Effect.onExit(Effect.suspend(lookup), (exit) =>
        Effect.sync(() => {
          if (entries.get(key)?._tag === "Pending") entries.delete(key)
          if (Exit.isSuccess(exit)) {
            if (entries.size >= options.capacity) entries.delete(entries.keys().next().value!)
            entries.set(key, { _tag: "Ready", value: exit.value, until: Date.now() + options.timeToLiveMs })
          }
        })
      )
      return Effect.zipRight(Effect.forkDaemon(Effect.intoDeferred(run, deferred)), Deferred.await(deferred))
    })

  return {
    get: (key, lookup) =>
      Effect.suspend(() => {
        const entry = entries.get(key)
        if (entry !== undefined) {
          if (entry._tag === "Pending") return Deferred.await(entry.deferred)
          if (entry.until > Date.now()) return Effect.succeed(entry.value)
        }
        return settle(key, lookup)
      }),
    clear: () => entries.clear()
  }
}
