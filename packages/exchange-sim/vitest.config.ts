import { defineProject } from "vitest/config"

export default defineProject({
  // Real sockets and real timers: allow for a loaded 2-core machine.
  test: { name: "exchange-sim", include: ["test/**/*.test.ts"], testTimeout: 20_000, hookTimeout: 20_000 }
})
