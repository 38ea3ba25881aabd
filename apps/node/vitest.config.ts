import { defineProject } from "vitest/config"

export default defineProject({
  // Each case starts the real command (tsx + Effect) once or more: seconds, not milliseconds.
  test: { name: "node", include: ["test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 30_000 }
})
