import { defineConfig } from "vitest/config"
import projects from "./vitest.workspace.js"

// vitest 3.2 prefers `test.projects`; the project list itself lives in vitest.workspace.ts.
//
// Workers: vitest's default on a 2-core machine is ONE worker (cores − 1), so every file ran after the other,
// although most of the slow files spend their time waiting (rate-limit windows, simulated markets, sockets, child
// processes) rather than computing. Three files at a time keep both cores busy.
//
// Groups: projects run in groups, lowest `sequence.groupOrder` first, and the files of one group share the workers.
// engine, exchange-binance and exchange-coinbase set -1: their acceptance and live-pipeline tests need the event loop
// to tick within ~100 ms (a 5m bucket lasts 125 ms at 2400×) and pace REST requests to the venue's limits, so they run
// first, among themselves, and the CPU-heavy files that start `livermore` processes (apps/node) come after them.
export default defineConfig({ test: { projects, maxWorkers: 2, minWorkers: 1 } })
