import { defineProject } from "vitest/config"

export default defineProject({
  // Real sockets and real timers: allow for a loaded 2-core machine. groupOrder 1: from the root, this package's files
  // run in a group of their own (with the other simulator packages), not beside the CPU-heavy files that start
  // `livermore` processes — see the root vitest.config.ts.
  test: {
    name: "exchange-sim",
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    sequence: { groupOrder: 1 }
  }
})
