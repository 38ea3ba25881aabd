import { defineConfig } from "vitest/config"
import projects from "./vitest.workspace.js"

// vitest 3.2 prefers `test.projects`; the project list itself lives in vitest.workspace.ts.
//
// Workers: vitest's default on a 2-core machine is ONE worker (cores − 1), so every file ran after the other. Most
// of the slow files spend their time waiting on real clocks, sockets, rate-limit windows and child processes rather
// than on the CPU, so three files at a time keep both cores busy.
export default defineConfig({ test: { projects, maxWorkers: 3, minWorkers: 1 } })
