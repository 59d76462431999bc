import { readFileSync } from 'node:fs';
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

const pkg: unknown = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const pkgVersion = typeof pkg === 'object' && pkg !== null ? String(Reflect.get(pkg, 'version')) : '0.0.0';

// `vite build` builds the app (dist/, with a generated service worker that precaches the app
// shell); `vite build --mode e2e` builds the core's test page (dist-e2e/). Both are served by
// the sync server (EDGE_APP_DIR), same origin as the API: WebCrypto and service workers need a
// secure context. JSX is compiled by esbuild (tsconfig "jsx": "react-jsx"); no React plugin is
// needed for a production build.
export default defineConfig(({ mode }) => {
  const e2e = mode === 'e2e';
  const input: Record<string, string> = e2e ? { harness: 'harness.html' } : { main: 'index.html' };
  return {
    define: { __APP_VERSION__: JSON.stringify(process.env.XRAY_APP_VERSION ?? pkgVersion) },
    build: {
      target: 'es2022',
      // No source maps: they would ship the app's sources with it (`npm start` serves this build).
      // For local debugging: `vite build --sourcemap` (the sync server refuses to serve .map files).
      sourcemap: false,
      outDir: e2e ? 'dist-e2e' : 'dist',
      emptyOutDir: true,
      // One bundle of about 190 kB gzipped: precached once, no lazy chunks to miss offline.
      chunkSizeWarningLimit: 1024,
      rollupOptions: {
        input,
        onwarn(warning, warn) {
          // zod's sources carry comments Rollup cannot place; harmless and noisy.
          if (warning.code !== 'INVALID_ANNOTATION') warn(warning);
        },
      },
    },
    plugins: e2e
      ? []
      : [
          VitePWA({
            strategies: 'generateSW',
            // Registered by the app with workbox-window (src/app/service-worker.ts): update prompt.
            injectRegister: false,
            registerType: 'prompt',
            filename: 'sw.js',
            manifest: {
              name: 'X-ray capture',
              short_name: 'X-ray',
              description: 'Capture X-rays in the ambulance and send them to the hospital.',
              start_url: '/',
              scope: '/',
              display: 'standalone',
              orientation: 'landscape',
              background_color: '#f4f6f8',
              theme_color: '#0b3d5c',
              icons: [{ src: 'icon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' }],
            },
            workbox: {
              globPatterns: ['**/*.{js,css,html,svg,webmanifest}'],
              // Navigations to the app (also the sign-in redirect back, /?code=…) get the cached
              // shell; the API on the same origin (/xrays, /uploads, …) is never touched.
              navigateFallback: 'index.html',
              navigateFallbackAllowlist: [/^\/(\?.*)?$/, /^\/index\.html(\?.*)?$/],
              cleanupOutdatedCaches: true,
              clientsClaim: true,
              skipWaiting: false,
              sourcemap: false,
              maximumFileSizeToCacheInBytes: 5 * 1024 * 1024,
            },
          }),
        ],
  };
});
