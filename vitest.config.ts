import { defineConfig } from "vitest/config"
import projects from "./vitest.workspace.js"

// vitest 3.2 prefers `test.projects`; the project list itself lives in vitest.workspace.ts.
export default defineConfig({ test: { projects } })
