// Each package and app is its own vitest project; `vitest run` at the root runs them all.
export default ["packages/*", "apps/*"]
