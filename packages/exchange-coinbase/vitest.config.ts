import { defineProject } from "vitest/config"

export default defineProject({
  test: { name: "exchange-coinbase", include: ["test/**/*.test.ts"] }
})
