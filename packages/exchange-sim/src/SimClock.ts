/** Sim time: runs `speed` times faster than the wall clock from a chosen start; can be re-anchored at run time. */
import { Clock, Effect } from "effect"

/** The simulator's clock. Every timestamp the simulator publishes (open times, `E`, REST "now") is sim time. */
export interface SimClock {
  /** Sim time now, ms since the epoch (an integer). */
  readonly now: () => number
  /** Current speed (sim ms per real ms; 0 = paused). */
  readonly speed: () => number
  /** Jump to `time` and/or change the speed, from this instant on. */
  readonly set: (change: { readonly time?: number | undefined; readonly speed?: number | undefined }) => void
  /** Real milliseconds until sim time advances by `simMs` (Infinity while paused). */
  readonly realMsFor: (simMs: number) => number
}

/** A clock reading `startTime` now and advancing `speed`× the wall clock (`wallClock` is injectable for tests). */
export const make = (startTime: number, speed: number, wallClock: () => number = Date.now): SimClock => {
  let anchorSim = startTime
  let anchorReal = wallClock()
  let rate = speed
  const now = (): number => Math.floor(anchorSim + (wallClock() - anchorReal) * rate)
  return {
    now,
    speed: () => rate,
    set: (change) => {
      const current = now()
      anchorReal = wallClock()
      anchorSim = change.time ?? current
      if (change.speed !== undefined) rate = change.speed
    },
    realMsFor: (simMs) => (rate <= 0 ? Number.POSITIVE_INFINITY : simMs / rate)
  }
}

/**
 * An Effect `Clock` whose "now" is `now()` (a simulator's time, ms) while sleeping stays real: a node under it
 * sees time as the venue does — closes, warmup windows, staleness — so a simulator running many times faster
 * than the wall clock drives the node faster without anything waiting in sim time.
 */
export const effectClock = (now: () => number): Clock.Clock => {
  const real = Clock.make()
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: now,
    currentTimeMillis: Effect.sync(now),
    unsafeCurrentTimeNanos: () => BigInt(now()) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(now()) * 1_000_000n),
    sleep: (duration) => real.sleep(duration)
  }
}
