/** Test fixtures: payloads written from the documented Coinbase formats (exchanges.md §2). */
import { readFileSync } from "node:fs"

/** The text of `test/fixtures/<name>.json`. */
export const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), "utf8")
