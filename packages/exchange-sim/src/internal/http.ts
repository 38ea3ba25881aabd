/** The transport-free shape of a REST exchange: codecs map a request to a reply; the server does the I/O. */

/** An incoming REST request. */
export interface RestRequest {
  readonly method: string
  /** Path without the query string, e.g. `/api/v3/klines`. */
  readonly path: string
  readonly query: URLSearchParams
}

/** A REST reply; `body` is serialised as JSON. */
export interface Reply {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
}

/** A JSON reply. */
export const json = (status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): Reply => ({
  status,
  headers,
  body
})

/** The same reply with more headers. */
export const withHeaders = (reply: Reply, headers: Readonly<Record<string, string>>): Reply => ({
  ...reply,
  headers: { ...reply.headers, ...headers }
})
