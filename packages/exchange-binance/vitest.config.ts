import { defineProject } from "vitest/config"

export default defineProject({
  test: { name: "exchange-binance", include: ["test/**/*.test.ts"] }
})
