import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { z } from 'zod';
import { AuthSession } from '../auth/auth.session.ts';
import { patientDirectory } from '../capture/patient-directory.ts';
import { loadSettings, retentionMs } from '../config/app-settings.ts';
import { serverConfigSource } from '../config/server-config.ts';
import { createEdgeCore } from '../edge.core.ts';
import { shellApi } from '../shell/shell.api.ts';
import { App } from './App.tsx';
import { registerServiceWorker } from './service-worker.ts';
import { ServicesContext, type AppServices } from './services.ts';
import './app.css';

// The app's CSP allows no eval: zod must not try to compile its parsers.
z.config({ jitless: true });

/** The public client the app is registered as at the issuer (build-time, per deployment). */
const CLIENT_ID: string = import.meta.env.VITE_OIDC_CLIENT_ID ?? 'xray-edge';

/** A stable, meaningless id for this device (sent with each X-ray as deviceId). */
function deviceId(storage: Storage): string {
  const key = 'xray-edge.device-id';
  let id = storage.getItem(key);
  if (!id) {
    id = `edge-${crypto.randomUUID().slice(0, 8)}`;
    storage.setItem(key, id);
  }
  return id;
}

async function boot(): Promise<void> {
  const rootElement = document.getElementById('root');
  if (!rootElement) throw new Error('no #root element');
  const storage = globalThis.localStorage;
  // Served by the sync server: that server is the default; Settings may name another.
  const settings = loadSettings(storage, location.origin);
  const serverConfig = serverConfigSource({ serverUrl: settings.serverUrl, storage });
  const shell = shellApi();
  // The core starts first (its database holds the sealed session); tokens come from `auth` below.
  const signedIn: { auth?: AuthSession } = {};
  const core = await createEdgeCore({
    apiBaseUrl: settings.serverUrl,
    getAccessToken: () => signedIn.auth?.getAccessToken() ?? null,
    retentionMs: retentionMs(settings),
    deviceId: deviceId(storage),
    tokenPollMs: 2_000,
  });
  const auth = new AuthSession({
    db: core.db,
    clientId: CLIENT_ID,
    issuer: async () => (await serverConfig.refresh()).oidc.issuer,
    redirectUri: `${location.origin}${location.pathname}`,
    ...(shell ? { loopback: shell.loopbackSignIn } : {}),
    pending: globalThis.sessionStorage,
  });
  signedIn.auth = auth;
  // A new sign-in (or a refused one) wakes the queue at once.
  auth.subscribe(() => core.engine.tokenChanged());
  await auth.load();
  let signInError: string | undefined;
  try {
    if (await auth.completeRedirect(new URL(location.href))) history.replaceState(null, '', location.pathname);
  } catch (err) {
    signInError = err instanceof Error ? err.message : String(err);
    history.replaceState(null, '', location.pathname);
  }
  core.engine.tokenChanged();
  void serverConfig.refresh();

  const services: AppServices = {
    core,
    auth,
    settings,
    serverConfig,
    patients: () => {
      const url = serverConfig.current().patientServiceUrl;
      return url ? patientDirectory(url) : null;
    },
    updates: registerServiceWorker(`${import.meta.env.BASE_URL}sw.js`),
    shell,
    deviceId: deviceId(storage),
    storage,
  };
  createRoot(rootElement).render(
    <StrictMode>
      <ServicesContext.Provider value={services}>
        <App
          {...(signInError ? { signInError } : {})}
          onSettingsSaved={() => {
            // Server and retention are wired into the core at start: start again with them.
            void core.close().finally(() => location.reload());
          }}
        />
      </ServicesContext.Provider>
    </StrictMode>,
  );
  document.body.dataset.ready = 'true';
}

boot().catch((err: unknown) => {
  console.error(err);
  const root = document.getElementById('root');
  if (root) root.textContent = `The app could not start: ${err instanceof Error ? err.message : String(err)}`;
});
