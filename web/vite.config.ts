import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [react()],
  build: {
    target: "es2022",
    // Hashed names under /assets: the gateway serves them as immutable for a year.
    assetsDir: "assets",
    sourcemap: false,
    reportCompressedSize: true,
  },
  test: { environment: "node", include: ["src/**/*.test.ts", "src/**/*.test.tsx"] },
});
