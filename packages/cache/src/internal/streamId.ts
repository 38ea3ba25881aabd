/** Redis stream entry ids (`<ms>-<seq>`), parsed and compared for the in-memory event log and for validation. */

/** An entry id as numbers. */
export interface StreamId {
  readonly ms: number
  readonly seq: number
}

const complete = /^(\d+)-(\d+)$/
const msOnly = /^\d+$/

/**
 * Parse an id or a bare millisecond time; `missingSeq` fills the sequence of a bare time (0 for a lower
 * bound, `MAX_SAFE_INTEGER` for an upper one, as XRANGE does). Undefined when malformed.
 */
export const parse = (id: string, missingSeq: number): StreamId | undefined => {
  const match = complete.exec(id)
  if (match) return { ms: Number(match[1]), seq: Number(match[2]) }
  return msOnly.test(id) ? { ms: Number(id), seq: missingSeq } : undefined
}

/** Negative, zero or positive as `a` sorts before, with or after `b`. */
export const compare = (a: StreamId, b: StreamId): number => (a.ms !== b.ms ? a.ms - b.ms : a.seq - b.seq)

/** `<ms>-<seq>`. */
export const format = (id: StreamId): string => `${id.ms}-${id.seq}`

/** Whether `id` is a usable bound: `-`, `+`, an id or a bare millisecond time. */
export const isBound = (id: string): boolean => id === "-" || id === "+" || parse(id, 0) !== undefined
