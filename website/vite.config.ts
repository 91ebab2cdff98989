// Vite builds the dashboard into dist/, which the Rust server serves at `/`.
// During `npm run dev`, API calls are proxied to a server started by ./run.sh.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8008",
      "/docs": "http://127.0.0.1:8008",
      "/openapi.json": "http://127.0.0.1:8008",
      "/metrics": "http://127.0.0.1:8008",
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
  },
});
