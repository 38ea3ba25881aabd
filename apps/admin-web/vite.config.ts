import react from "@vitejs/plugin-react"
import { defineConfig } from "vite"

// Served by the node under /admin (apps/node/src/AdminWeb.ts); `vite build` writes dist/.
export default defineConfig({
  base: "/admin/",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 2000 }
})
