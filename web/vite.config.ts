// The studio's build: web/ is the root, the output goes to web/dist (what the server serves at /).
// Relative asset URLs, so the built page works under any path the server mounts it at.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The in-browser page bundles TensorFlow.js; it is its own chunk, loaded only when that tab opens.
    chunkSizeWarningLimit: 4096,
  },
  server: {
    // `npx vite web` during development: the API comes from a running `genloom serve`.
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});
