/**
 * `pnpm build:node`: the `livermore` command as ONE JavaScript file, `apps/node/dist/livermore.mjs`.
 *
 * Why: run from the TypeScript sources (`pnpm livermore`, tsx), Node loads ~1,500 modules through tsx's
 * off-thread loader hooks — `livermore --help` took 5.2 s and 8.3 s of CPU on a 2-core machine. The bundle starts in
 * about 1.2 s: production nodes and the CLI tests run it.
 *
 * The bundle sits two folders below the repository root, as every source file's folder does (`apps/node/src`,
 * `packages/store/src`), so the paths the sources resolve from `import.meta.url` (`sql/`, `apps/admin-web/dist`,
 * `apps/node/package.json`) resolve to the same places from it. PGlite stays outside: it loads its WebAssembly and
 * data files from beside its own module.
 */
import { rename } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"

export const outfile = fileURLToPath(new URL("./dist/livermore.mjs", import.meta.url))

export const bundle = async () => {
  // Written beside, then renamed: two test projects may build at once, and a reader never sees half a file.
  const partial = `${outfile}.${process.pid}.partial`
  await esbuild.build({
    entryPoints: [fileURLToPath(new URL("./src/bin.ts", import.meta.url))],
    outfile: partial,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Optional native speed-ups that ws and pg look for at run time, and PGlite (see above).
    external: ["@electric-sql/pglite", "bufferutil", "utf-8-validate", "pg-native"],
    // The CommonJS packages in the bundle (ioredis, pg, ws) call `require` for Node's built-ins.
    banner: { js: "import { createRequire as livermoreCreateRequire } from 'node:module'; const require = livermoreCreateRequire(import.meta.url);" },
    logLevel: "warning"
  })
  await rename(partial, outfile)
  return outfile
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = Date.now()
  const written = await bundle()
  console.log(`Built ${written} in ${Date.now() - started} ms`)
}
