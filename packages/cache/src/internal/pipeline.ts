/**
 * Batches of single-key commands sent in one ioredis pipeline: one write and one round trip for the whole
 * batch, every reply checked. A pipeline is not a transaction: commands before and after a failing one still
 * run, and the batch fails with the first failing command's key.
 */
import { Effect } from "effect"
import type { ChainableCommander, Redis } from "ioredis"
import type { CacheError } from "../CacheError.js"
import { type RedisClient, RedisError } from "../RedisClient.js"
import { backend } from "./codec.js"
import type { Script } from "./script.js"

type Client = RedisClient["Type"]

type Reply = [error: Error | null, result: unknown]

/** One script call of a batch: its one key and its arguments. */
export interface ScriptCall {
  readonly key: string
  readonly args: ReadonlyArray<string | number>
}

const send = async (
  redis: Redis,
  count: number,
  queue: (pipeline: ChainableCommander) => void
): Promise<Array<Reply>> => {
  const pipeline = redis.pipeline()
  queue(pipeline)
  const replies = await pipeline.exec()
  if (replies === null || replies.length !== count) {
    throw new Error(`the pipeline answered ${replies?.length ?? "nothing"} for ${count} commands`)
  }
  return replies
}

const isNoScript = (error: Error | null): boolean => error?.message.startsWith("NOSCRIPT") === true

/**
 * EVALSHA every call in one pipeline. Calls that come back NOSCRIPT (the first use on this server, or the
 * script cache was emptied by a restart or SCRIPT FLUSH) have done nothing, so only they are sent again, in a
 * second pipeline that starts with SCRIPT LOAD: a cold script cache costs one more round trip, not one per call.
 */
const sendScripts = async (redis: Redis, script: Script, calls: ReadonlyArray<ScriptCall>): Promise<Array<Reply>> => {
  const replies = await send(redis, calls.length, (pipeline) => {
    for (const call of calls) pipeline.evalsha(script.sha, 1, call.key, ...call.args)
  })
  const missing: Array<number> = []
  for (let i = 0; i < replies.length; i++) if (isNoScript(replies[i]![0])) missing.push(i)
  if (missing.length === 0) return replies
  const retried = await send(redis, missing.length + 1, (pipeline) => {
    pipeline.script("LOAD", script.source)
    for (const i of missing) pipeline.evalsha(script.sha, 1, calls[i]!.key, ...calls[i]!.args)
  })
  const [loadError] = retried[0]!
  missing.forEach((i, j) => {
    replies[i] = loadError === null ? retried[j + 1]! : [loadError, null]
  })
  return replies
}

const run = (
  redis: Client,
  op: string,
  keys: ReadonlyArray<string>,
  f: (redis: Redis) => Promise<Array<Reply>>
): Effect.Effect<ReadonlyArray<unknown>, CacheError> =>
  Effect.flatMap(redis.use(op, f).pipe(Effect.mapError(backend(op, keys[0] ?? ""))), (replies) => {
    const results = new Array<unknown>(replies.length)
    for (let i = 0; i < replies.length; i++) {
      const [error, result] = replies[i]!
      if (error !== null) return Effect.fail(backend(op, keys[i]!)(new RedisError({ op, host: redis.host, cause: error })))
      results[i] = result
    }
    return Effect.succeed(results)
  })

/**
 * Send the commands `queue` adds, exactly one per entry of `keys` and in the same order, in one pipeline; the
 * replies in that order. Nothing is sent when `keys` is empty.
 */
export const exec = (
  redis: Client,
  op: string,
  keys: ReadonlyArray<string>,
  queue: (pipeline: ChainableCommander) => void
): Effect.Effect<ReadonlyArray<unknown>, CacheError> =>
  keys.length === 0 ? Effect.succeed([]) : run(redis, op, keys, (r) => send(r, keys.length, queue))

/** Run `script` once per call in one pipeline (EVALSHA, loading the script when the server lacks it). */
export const evalScripts = (
  redis: Client,
  op: string,
  script: Script,
  calls: ReadonlyArray<ScriptCall>
): Effect.Effect<ReadonlyArray<unknown>, CacheError> =>
  calls.length === 0
    ? Effect.succeed([])
    : run(
        redis,
        op,
        calls.map((call) => call.key),
        (r) => sendScripts(r, script, calls)
      )
