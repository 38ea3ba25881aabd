import { configDefaults } from "vitest/config"

// Each package and app is its own vitest project; `vitest run` at the root runs them all. Two files are projects of
// their own, each run ALONE after everything else (see vitest.config.ts for the groups):
// - exchange-coinbase's acceptance test (groupOrder 2): its market loop must tick inside every 250 ms bucket (1200×);
// - engine's LivePipeline test (groupOrder 3): a simulated market at 1200× with drops and restarts, checked to the
//   candle; beside two other simulator files on a 2-core machine its reconnects and catch-up overran their waits
//   in 3 of 4 CI runs (it passes alone in about 50 s).
// Their packages are therefore listed here as two projects each instead of through `packages/*`. Started inside
// the package, vitest still runs the whole package from its own vitest.config.ts.
const coinbase = "packages/exchange-coinbase"
const coinbaseAcceptance = "test/acceptance.test.ts"
const engine = "packages/engine"
const livePipeline = "test/LivePipeline.test.ts"

export default [
  "packages/*",
  `!${coinbase}`,
  `!${engine}`,
  "apps/*",
  {
    extends: `./${coinbase}/vitest.config.ts`,
    root: `./${coinbase}`,
    test: { exclude: [...configDefaults.exclude, coinbaseAcceptance] }
  },
  {
    root: `./${coinbase}`,
    test: { name: "exchange-coinbase-acceptance", include: [coinbaseAcceptance], testTimeout: 30_000, sequence: { groupOrder: 2 } }
  },
  {
    extends: `./${engine}/vitest.config.ts`,
    root: `./${engine}`,
    test: { exclude: [...configDefaults.exclude, livePipeline] }
  },
  {
    root: `./${engine}`,
    test: { name: "engine-live-pipeline", include: [livePipeline], testTimeout: 30_000, sequence: { groupOrder: 3 } }
  }
]
