import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { z } from 'zod';
import { AuthSession } from '../auth/auth.session.ts';
import { unlockWithKeyring } from '../auth/device.unlock.ts';
import { getDpopKey } from '../auth/dpop.key.ts';
import type { AuthorizeRequest } from '../auth/server.authorizer.ts';
import { PatientDetailsGate } from '../auth/offline.grace.ts';
import { captureReceivedDicom } from '../capture/dicom-intake.ts';
import { RosterStore } from '../capture/roster.store.ts';
import { createSentLinks } from '../sync/sent-link.ts';
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
  const thisDevice = deviceId(storage);
  const late: { auth?: AuthSession; gate?: PatientDetailsGate } = {};
  const serverConfig = serverConfigSource({
    serverUrl: settings.serverUrl,
    storage,
    // The offline grace period runs from the server's last answer.
    onContact: () => void late.gate?.recordContact(),
  });
  const shell = shellApi();
  // The core starts first (its database holds the sealed session); tokens come from `auth` below.
  const core = await createEdgeCore({
    apiBaseUrl: settings.serverUrl,
    // Nothing is sent while the device is locked: reading a capture needs its private key.
    getAccessToken: async () =>
      (await core.vault.state()) === 'locked' ? null : ((await late.auth?.getAccessToken()) ?? null),
    retentionMs: retentionMs(settings),
    deviceId: thisDevice,
    // A token the server calls expired (this device's clock behind) is refreshed at the next poll.
    onTokenExpired: (token) => late.auth?.expireAccessToken(token),
    tokenPollMs: 2_000,
    // The server's stall timeout (/edge-config, cached for offline starts), else the default.
    stallTimeoutMs: () => serverConfig.current().uploadStallMs,
  });
  const auth = new AuthSession({
    db: core.db,
    clientId: CLIENT_ID,
    issuer: async () => (await serverConfig.refresh()).oidc.issuer,
    redirectUri: `${location.origin}${location.pathname}`,
    ...(shell ? { loopback: shell.loopbackSignIn } : {}),
    pending: globalThis.sessionStorage,
    // Tokens bound to this device's key (DPoP): a copied token is useless elsewhere.
    dpopKey: () => getDpopKey(core.db),
  });
  late.auth = auth;
  const gate = new PatientDetailsGate({
    db: core.db,
    vault: core.vault,
    graceMs: () => serverConfig.current().offlineGraceMs,
    // An answer to a device nobody is signed in on does not restart the period.
    signedIn: () => auth.state.status === 'signed-in',
  });
  await gate.load();
  late.gate = gate;
  // Electron: the OS keyring opens the device's keys; without a usable one, the PIN does.
  let keyringProblem: string | undefined;
  if (shell?.keyring) {
    try {
      await unlockWithKeyring(core.db, shell.keyring);
    } catch (err) {
      keyringProblem = `${err instanceof Error ? err.message : String(err)} A shift PIN protects the keys instead.`;
    }
  }
  // A new sign-in (or a refused one) wakes the queue at once.
  auth.subscribe(() => core.engine.tokenChanged());
  // Signed in: ask the server now, so details closed by the offline grace period open at once.
  auth.subscribe(() => {
    if (auth.state.status === 'signed-in') void serverConfig.refresh();
  });
  // The first sign-in with a device-bound token enrolls this install as a device (once per key).
  const enroll = async (): Promise<void> => {
    if (auth.state.status !== 'signed-in' || (await core.vault.state()) === 'locked') return;
    const token = await auth.getAccessToken();
    if (token) await core.enroll(token, { name: `Edge ${thisDevice}`, appVersion: __APP_VERSION__ });
  };
  auth.subscribe(() => void enroll().catch((err: unknown) => console.warn('device enrollment', err)));
  // Revoked by an administrator: the core has wiped the device; forget the session and start over.
  core.onWiped(() => void auth.signOut().finally(() => location.reload()));
  const wiped = await core.wipeNotice();
  await auth.load();
  let signInError: string | undefined;
  const landedAt = new URL(location.href);
  const finishSignIn = async (): Promise<string | undefined> => {
    try {
      if (await auth.completeRedirect(landedAt)) history.replaceState(null, '', location.pathname);
      return undefined;
    } catch (err) {
      history.replaceState(null, '', location.pathname);
      return err instanceof Error ? err.message : String(err);
    }
  };
  const fromIssuer = landedAt.searchParams.has('state') && landedAt.searchParams.has('code');
  if (fromIssuer && (await core.vault.state()) === 'locked') {
    // The code exchange proves the DPoP key, sealed in the vault: it waits for the shift PIN.
    const stop = core.vault.subscribe(() => {
      if (!core.vault.unlocked) return;
      stop();
      void finishSignIn().then((problem) => problem && console.warn('sign-in', problem));
    });
  } else signInError = await finishSignIn();
  core.engine.tokenChanged();
  void enroll().catch((err: unknown) => console.warn('device enrollment', err));
  void serverConfig.refresh();
  // Reaching the server now and then keeps the offline grace period running from a fresh start.
  setInterval(() => {
    if (navigator.onLine) void serverConfig.refresh();
  }, 60_000);

  // Requests to the sync server besides tus (roster, the X-ray's link, a patient fix) are
  // authorized here, in one place; nothing while the device is locked.
  const authorize: AuthorizeRequest = async (method, url) => {
    if ((await core.vault.state()) === 'locked') return null;
    const token = await auth.getAccessToken();
    return token ? core.authorize(token, method, url) : null;
  };
  const apiBase = settings.serverUrl.replace(/\/+$/, '');
  // core.fetch: a `device_revoked` answer to these starts the remote wipe too.
  const roster = new RosterStore({ db: core.db, baseUrl: apiBase, authorize, fetch: core.fetch });
  roster.start();
  // A sign-in or an unlock: refresh the list (and open the kept one) at once.
  // Signed out: the list goes with the person (the next one may not be allowed it).
  auth.subscribe(
    () => void (auth.state.status === 'signed-out' ? roster.clear() : roster.refresh()).catch(() => undefined),
  );
  core.vault.subscribe(
    () =>
      void roster
        .load()
        .then(() => roster.refresh())
        .catch(() => undefined),
  );
  const sentLinks = createSentLinks({ db: core.db, baseUrl: apiBase, authorize, fetch: core.fetch });
  // Electron: images detectors push by DICOM C-STORE go straight into the encrypted queue
  // (patient from the data set, held when the wrong-patient rules say so); the shell answers
  // the detector once this resolves.
  shell?.dicomReceiver?.onInstance(async (instance) => {
    await captureReceivedDicom(core.capture, instance, {
      deviceId: thisDevice,
      roster: () => roster.state.roster,
      patientIdIssuer: () => serverConfig.current().patientIdIssuer,
    });
  });

  const services: AppServices = {
    core,
    roster,
    sentLinks,
    auth,
    settings,
    serverConfig,
    updates: registerServiceWorker(`${import.meta.env.BASE_URL}sw.js`),
    shell,
    deviceId: thisDevice,
    storage,
    gate,
    ...(keyringProblem ? { keyringProblem } : {}),
  };
  createRoot(rootElement).render(
    <StrictMode>
      <ServicesContext.Provider value={services}>
        <App
          {...(signInError ? { signInError } : {})}
          {...(wiped ? { wiped } : {})}
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
