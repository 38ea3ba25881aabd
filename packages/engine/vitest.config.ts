import { defineProject } from "vitest/config"

export default defineProject({
  // groupOrder 1: from the root, this package's files run in a group of their own (with the other simulator
  // packages), not beside the CPU-heavy files that start `livermore` processes — see the root vitest.config.ts.
  test: { name: "engine", include: ["test/**/*.test.ts"], testTimeout: 30_000, sequence: { groupOrder: 1 } }
})
