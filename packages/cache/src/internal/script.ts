/** A Lua script run by EVALSHA, loaded with EVAL the first time a server does not know it. */
import { createHash } from "node:crypto"
import type { Redis } from "ioredis"

/** A script and its SHA-1. */
export interface Script {
  readonly source: string
  readonly sha: string
}

/** Prepare a script (nothing is sent until it runs). */
export const make = (source: string): Script => ({ source, sha: createHash("sha1").update(source).digest("hex") })

/**
 * Run a script on one key. Each script touches exactly one key, so it never needs a cross-slot operation on
 * Redis Cluster.
 */
export const run = async (
  redis: Redis,
  script: Script,
  key: string,
  args: ReadonlyArray<string | number>
): Promise<unknown> => {
  try {
    return await redis.evalsha(script.sha, 1, key, ...args)
  } catch (error) {
    if (error instanceof Error && error.message.startsWith("NOSCRIPT")) {
      return await redis.eval(script.source, 1, key, ...args)
    }
    throw error
  }
}
