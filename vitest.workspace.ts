import { configDefaults } from "vitest/config"

// Each package and app is its own vitest project; `vitest run` at the root runs them all. One file is a project of
// its own: exchange-coinbase's acceptance test runs alone (groupOrder 2, see vitest.config.ts), so the package is
// listed here as two projects instead of through `packages/*`. Started inside packages/exchange-coinbase, vitest
// still runs the whole package from its own vitest.config.ts.
const coinbase = "packages/exchange-coinbase"
const coinbaseAcceptance = "test/acceptance.test.ts"

export default [
  "packages/*",
  `!${coinbase}`,
  "apps/*",
  {
    extends: `./${coinbase}/vitest.config.ts`,
    root: `./${coinbase}`,
    test: { exclude: [...configDefaults.exclude, coinbaseAcceptance] }
  },
  {
    root: `./${coinbase}`,
    test: { name: "exchange-coinbase-acceptance", include: [coinbaseAcceptance], sequence: { groupOrder: 2 } }
  }
]
