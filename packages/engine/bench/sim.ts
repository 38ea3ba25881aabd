/**
 * The simulator in a worker thread of its own, so its CPU (it builds candles on demand, synchronously) does not
 * stall the event loop the adapter's governor paces requests on: like a real exchange, it runs beside the
 * client. Started by `warmup.ts` with the options as `workerData`; it posts back where it listens and its
 * Coinbase product ids, then runs until the worker is terminated. Control and counters go over HTTP
 * (`/__sim/stats`, `/__sim/reset`), as for any out-of-process simulator.
 */
import { parentPort, workerData } from "node:worker_threads"
import { ExchangeSim, type Options } from "@livermore/exchange-sim"
import { Effect } from "effect"

/** What the worker posts once the simulator listens. */
export interface Ready {
  readonly url: string
  readonly wsUrl: string
  /** Coinbase product ids (`BTC-USD`), in the simulator's symbol order (illiquid ones last). */
  readonly products: ReadonlyArray<string>
}

if (parentPort !== null) {
  const port = parentPort
  const options = workerData as Options.SimOptionsInput
  Effect.runFork(
    Effect.scoped(
      Effect.gen(function* () {
        const sim = yield* ExchangeSim.make(options)
        port.postMessage({ url: sim.url, wsUrl: sim.wsUrl, products: sim.market.symbols.map((s) => s.coinbase) } satisfies Ready)
        return yield* Effect.never
      })
    )
  )
}
