/** The node's version, from its package.json, for `--version`, logs and `/health`. */
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)

export const version: string = (require("../package.json") as { readonly version: string }).version
