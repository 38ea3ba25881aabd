import { defineProject } from "vitest/config"

export default defineProject({
  // Each case starts the real command (the bundle globalSetup builds) once or more: seconds, not milliseconds.
  test: {
    name: "node",
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 30_000
  }
})
