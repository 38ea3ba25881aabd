/** What the browser imports: the RPC group and its auth middleware, with no server code. */
export * from "./AdminAuth.js"
export * from "./AdminRpcs.js"
