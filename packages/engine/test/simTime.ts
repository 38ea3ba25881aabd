/** The simulator's clock as an Effect `Clock` (see `SimClock.effectClock`), for tests that run a node under it. */
import { type ExchangeSim, SimClock } from "@livermore/exchange-sim"
import type { Clock } from "effect"

export const clockOf = (sim: ExchangeSim.SimHandle): Clock.Clock => SimClock.effectClock(() => sim.clock.now())
