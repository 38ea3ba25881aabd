import { defineConfig } from "vitest/config"
import projects from "./vitest.workspace.js"

// vitest 3.2 prefers `test.projects`; the project list itself lives in vitest.workspace.ts.
//
// Workers: vitest's default on a 2-core machine is ONE worker (cores − 1), so the files ran one after the other
// although most slow ones mostly wait (rate-limit windows, simulated markets, sockets, child processes). Three files
// run at a time, in groups that keep timing-sensitive files away from CPU-heavy ones. Groups run one after the
// other, lowest `sequence.groupOrder` first; only the files of one group share the machine:
//   0  everything else, among them the CPU-heavy files that start `livermore` processes (apps/node);
//   1  engine, exchange-sim, exchange-binance, exchange-coinbase: simulators at 300–2400× real time and REST pacing
//      against real rate limits — the event loop must keep up (a 5m bucket lasts 125 ms at 2400×), so no CPU-heavy
//      neighbours;
//   2  exchange-coinbase's acceptance test ALONE: its market loop must tick inside every 250 ms bucket and its
//      warmup paces 400 requests at exactly the venue's 10/s, so any neighbour's CPU bursts cost it 429s.
//   3  engine's LivePipeline test ALONE: a market at 1200× with dropped sockets and restarts, checked to the candle;
//      beside the group-1 files its reconnect and catch-up waits overran in 3 of 4 CI runs (see vitest.workspace.ts).
// (vitest sorts the group numbers as strings: keep them single, non-negative digits.)
// testTimeout is set in EACH project's config (30 s; apps/node 60 s): a project does not inherit the root's test
// options. Tests that take 3 s alone (property runs, 1,000-request fuzzes) took over the default 5 s beside two
// other files on a slower 2-core machine (an indicators property test failed CI at 7.9 s); a real hang still fails.
export default defineConfig({ test: { projects, maxWorkers: 3, minWorkers: 1 } })
