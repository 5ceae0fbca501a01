import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The build lands inside the Python package (served by server/console at /), committed so that
// `pip install` ships it. File names carry content hashes only: the same sources give the same
// bytes (CI rebuilds and diffs them).
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "../server/console/static",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
  },
  server: { proxy: { "/v1": "http://127.0.0.1:8000" } },
});
