import { defineProject } from "vitest/config"

export default defineProject({
  test: { name: "exchange-sim", include: ["test/**/*.test.ts"] }
})
