import { defineProject } from "vitest/config"

export default defineProject({
  test: { name: "admin-rpc", include: ["test/**/*.test.ts"], testTimeout: 30_000 }
})
