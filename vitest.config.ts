import { defineConfig } from "vitest/config"
import projects from "./vitest.workspace.js"

// vitest 3.2 prefers `test.projects`; the project list itself lives in vitest.workspace.ts.
//
// Workers: vitest's default on a 2-core machine is ONE worker (cores − 1), so every file ran after the other,
// although most of the slow files spend their time waiting (rate-limit windows, simulated markets, sockets, child
// processes) rather than computing. Two files at a time, one per core; three made the rate-sensitive simulator
// tests flaky under load.
export default defineConfig({ test: { projects, maxWorkers: 2, minWorkers: 1 } })
