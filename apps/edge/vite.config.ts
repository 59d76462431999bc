import { defineConfig } from 'vite';

// `vite build` builds the app; `vite build --mode e2e` builds the test page the browser tests load
// (served by the sync server, same origin as the API: WebCrypto needs a secure context).
export default defineConfig(({ mode }) => {
  const input: Record<string, string> = mode === 'e2e' ? { harness: 'harness.html' } : { main: 'index.html' };
  return {
    build: {
      target: 'es2022',
      sourcemap: true,
      outDir: mode === 'e2e' ? 'dist-e2e' : 'dist',
      emptyOutDir: true,
      rollupOptions: { input },
    },
  };
});
