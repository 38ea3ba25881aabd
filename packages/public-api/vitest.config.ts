import { defineProject } from "vitest/config"

export default defineProject({
  test: { name: "public-api", include: ["test/**/*.test.ts"], testTimeout: 30_000 }
})
