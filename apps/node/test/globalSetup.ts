/**
 * Before the CLI tests (apps/node, apps/admin-web): build `apps/node/dist/livermore.mjs` from the current sources,
 * once per run. The tests start that bundle, as production does: from the sources through tsx every start cost ~8 s
 * of CPU, and dozens of starts beside each other on a 2-core machine pushed CI towards its time limit.
 */
import { execFileSync } from "node:child_process"
import * as path from "node:path"

export default function setup(): void {
  execFileSync(process.execPath, [path.resolve(import.meta.dirname, "../bundle.mjs")], { stdio: "inherit" })
}
