/** Test fixtures: Binance payloads written from the documented formats (exchanges.md §1), read as raw text. */
import { readFileSync } from "node:fs"

/** The text of `fixtures/<name>.json`, exactly as a socket or HTTP body would deliver it. */
export const text = (name: string): string => readFileSync(new URL(`./fixtures/${name}.json`, import.meta.url), "utf8")

/** The parsed JSON of `fixtures/<name>.json`. */
export const json = (name: string): unknown => JSON.parse(text(name))
