import { defineProject } from "vitest/config"

export default defineProject({
  // The e2e test starts the node's bundle, which apps/node's globalSetup builds.
  test: {
    name: "admin-web",
    include: ["test/**/*.test.ts"],
    globalSetup: ["../node/test/globalSetup.ts"],
    testTimeout: 30_000
  }
})
