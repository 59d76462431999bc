import { scryptSync } from 'node:crypto';
import { copyFile, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, expect, test, type BrowserContext, type Page } from '@playwright/test';
import { chromiumLaunchOptions } from '@xray/testkit';
import {
  SHIFT_PIN,
  captureForm,
  openApp,
  queueItems,
  signInThroughIssuer,
  tab,
  unlockShift,
} from '../support/app-page.ts';
import { dumpIndexedDb, stackInfo } from '../support/edge-page.ts';

/**
 * Keys at rest (issue 17): Chromium writes a CryptoKey's bytes into IndexedDB's LevelDB files
 * whether or not it is extractable. The app, driven as a paramedic would (sign in, choose the
 * shift PIN, capture), then the browser closed: no file of the profile holds the device's private
 * key, the DPoP private key, the token key, the vault's key, a capture's data key, the refresh token or a patient field.
 * The secrets to look for are recovered here from the stored records with the PIN (what only the
 * PIN holder can do), which also proves the format; and every stored record is read back through
 * the page and scanned too (Chromium Snappy-compresses large values, which a disk scan can miss).
 */
const stack = stackInfo();
const subtle = globalThis.crypto.subtle;
const utf8 = (s: string): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(s, 'utf8'));

interface Needle {
  what: string;
  bytes: Buffer;
}

/** The needle as raw bytes, and as the text encodings a store might use for it. */
function needles(what: string, bytes: Uint8Array): Needle[] {
  const b = Buffer.from(bytes);
  return [
    { what, bytes: b },
    { what: `${what} (base64)`, bytes: Buffer.from(b.toString('base64')) },
    { what: `${what} (base64url)`, bytes: Buffer.from(b.toString('base64url')) },
    { what: `${what} (hex)`, bytes: Buffer.from(b.toString('hex')) },
  ];
}

/** A text as UTF-8/Latin-1 (V8's one-byte strings) and UTF-16LE (its two-byte strings). */
const textNeedles = (what: string, text: string): Needle[] => [
  { what, bytes: Buffer.from(text, 'latin1') },
  { what: `${what} (UTF-16)`, bytes: Buffer.from(text, 'utf16le') },
];

/** Types a patient id not on the device's list and keeps it with a reason (the capture form's hold). */
async function typePatient(page: Page, id: string): Promise<void> {
  await captureForm(page).patientId.fill(id);
  const hold = page.getByTestId('patient-hold');
  await hold.getByRole('button', { name: `Keep ${id}` }).click();
  await page.getByLabel(`Why keep ${id}?`).fill('Known to the crew');
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

const found = (label: string, haystack: Buffer, list: Needle[]): string[] =>
  list.filter((n) => haystack.includes(n.bytes)).map((n) => `${n.what} in ${label}`);

/** The app's stored records, read with the raw IndexedDB API. */
async function storedRecords(page: Page) {
  return page.evaluate(async () => {
    const request = <T>(r: IDBRequest<T>): Promise<T> =>
      new Promise((resolve, reject) => {
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
    const db = await request(indexedDB.open('xray-edge'));
    const get = (store: string, key: string): Promise<unknown> =>
      request(db.transaction(store, 'readonly').objectStore(store).get(key));
    const all = (store: string): Promise<unknown[]> =>
      request(db.transaction(store, 'readonly').objectStore(store).getAll());
    // Uint8Arrays as plain arrays, to cross into the test.
    const plain = (v: unknown): unknown =>
      v instanceof Uint8Array
        ? Array.from(v)
        : Array.isArray(v)
          ? v.map(plain)
          : typeof v === 'object' && v !== null && !(v instanceof CryptoKey) && !(v instanceof Blob)
            ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
            : v instanceof CryptoKey || v instanceof Blob
              ? null
              : v;
    const publicRow = await get('keys', 'device-ecdh.public');
    const publicKey: unknown = typeof publicRow === 'object' && publicRow ? Reflect.get(publicRow, 'key') : null;
    const publicRaw =
      publicKey instanceof CryptoKey
        ? Array.from(new Uint8Array(await crypto.subtle.exportKey('raw', publicKey)))
        : null;
    const out = {
      vault: plain(await get('settings', 'vault')),
      session: plain(await get('settings', 'session')),
      captures: plain(await all('captures')),
      keyIds: (await all('keys')).map((k) => (typeof k === 'object' && k ? String(Reflect.get(k, 'id')) : '')),
      publicRaw,
    };
    db.close();
    return out;
  });
}

const bytesOf = (v: unknown): Uint8Array<ArrayBuffer> => {
  if (!Array.isArray(v)) throw new Error('expected bytes');
  return new Uint8Array(v.map(Number));
};
const field = (o: unknown, ...keys: string[]): unknown =>
  keys.reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? Reflect.get(v, k) : undefined), o);

/** What only the PIN holder can recover from the stored records: the secrets to look for. */
async function secretsFromRecords(records: Awaited<ReturnType<typeof storedRecords>>, pin: string) {
  const protector = field(records.vault, 'value', 'protector');
  expect(field(protector, 'kind')).toBe('pin');
  expect(field(protector, 'kdf')).toBe('scrypt');
  const [N, r, p] = ['N', 'r', 'p'].map((k) => Number(field(protector, k)));
  expect({ N, r, p }).toEqual({ N: 2 ** 17, r: 8, p: 1 });
  const kekRaw = scryptSync(pin, bytesOf(field(protector, 'salt')), 32, {
    N,
    r,
    p,
    maxmem: 256 * 1024 * 1024,
  });
  const kek = await subtle.importKey('raw', kekRaw, 'AES-GCM', false, ['decrypt']);
  const unseal = async (id: string): Promise<Uint8Array<ArrayBuffer>> => {
    const w = field(records.vault, 'value', 'keys', id);
    return new Uint8Array(
      await subtle.decrypt(
        { name: 'AES-GCM', iv: bytesOf(field(w, 'iv')), additionalData: utf8(`xray-edge vault v1|${id}`) },
        kek,
        bytesOf(field(w, 'sealed')),
      ),
    );
  };
  const pkcs8 = await unseal('device-ecdh.private');
  const devicePrivate = await subtle.importKey('pkcs8', pkcs8, { name: 'ECDH', namedCurve: 'P-256' }, true, [
    'deriveBits',
  ]);
  const d = Buffer.from(String((await subtle.exportKey('jwk', devicePrivate)).d), 'base64url');
  const dpopPrivate = await subtle.importKey(
    'pkcs8',
    await unseal('dpop.private'),
    { name: 'ECDSA', namedCurve: 'P-256' },
    true,
    ['sign'],
  );
  const dpopD = Buffer.from(String((await subtle.exportKey('jwk', dpopPrivate)).d), 'base64url');
  const tokenRaw = await unseal('token.aes');
  const tokenKey = await subtle.importKey('raw', tokenRaw, 'AES-GCM', false, ['decrypt']);
  const session = JSON.parse(
    Buffer.from(
      await subtle.decrypt(
        {
          name: 'AES-GCM',
          iv: bytesOf(field(records.session, 'value', 'iv')),
          additionalData: utf8('xray-edge session v1'),
        },
        tokenKey,
        bytesOf(field(records.session, 'value', 'sealed')),
      ),
    ).toString('utf8'),
  ) as { refreshToken: string };
  // Each capture's data key: ECDH-ES to the device key, HKDF-SHA-256, AES-KW (device-key.ts).
  const deks: Uint8Array[] = [];
  for (const c of Array.isArray(records.captures) ? records.captures : []) {
    expect(field(c, 'keyId')).toBe('device-ecdh');
    const wrapped = bytesOf(field(c, 'wrappedDek'));
    const ephemeralRaw = wrapped.slice(0, 65);
    const ephemeral = await subtle.importKey('raw', ephemeralRaw, { name: 'ECDH', namedCurve: 'P-256' }, false, []);
    const secret = await subtle.deriveBits({ name: 'ECDH', public: ephemeral }, devicePrivate, 256);
    const ikm = await subtle.importKey('raw', secret, 'HKDF', false, ['deriveKey']);
    const info = Buffer.concat([Buffer.from('xray-edge device-ecdh dek wrap v1'), ephemeralRaw]);
    const kw = await subtle.deriveKey(
      { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: new Uint8Array(info) },
      ikm,
      { name: 'AES-KW', length: 256 },
      false,
      ['unwrapKey'],
    );
    const dek = await subtle.unwrapKey('raw', wrapped.slice(65), kw, 'AES-KW', 'AES-GCM', true, ['decrypt']);
    deks.push(new Uint8Array(await subtle.exportKey('raw', dek)));
  }
  return { kek: new Uint8Array(kekRaw), pkcs8, d, dpopD, tokenRaw, refreshToken: session.refreshToken, deks };
}

test('a profile written by the app (sign in, PIN, capture, browser closed) holds no key, token or patient field in any file', async () => {
  const profile = await mkdtemp(path.join(tmpdir(), 'xray-profile-'));
  const fileName = 'Quixotewell-hand.png';
  const photo = path.join(stack.filesDir, fileName);
  await copyFile(stack.files.png.path, photo);
  const patientId = 'P-QUIXOTEWELL-4711';
  const notes = 'Zacharias Quixotewell, fell from a ladder';
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      ...chromiumLaunchOptions(),
      viewport: { width: 1280, height: 800 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    await openApp(page, stack);
    await signInThroughIssuer(page, stack, 'Pat Paramedic'); // sign in, then choose the shift PIN

    // Offline, so the capture stays queued on the device.
    await context.setOffline(true);
    await tab(page, 'Capture').click();
    const f = captureForm(page);
    await page.getByLabel('Choose X-ray files').setInputFiles(photo);
    await typePatient(page, patientId);
    await f.bodyPart.selectOption('HAND');
    await f.view.selectOption('PA');
    await f.notes.fill(notes);
    await f.save.click();
    await expect(f.notice).toContainText('queued to send');
    await tab(page, 'Queue').click();
    await expect(queueItems(page).first()).toContainText(patientId); // unlocked: the app shows it

    const records = await storedRecords(page);
    const secrets = await secretsFromRecords(records, SHIFT_PIN);
    expect(secrets.deks).toHaveLength(1);
    expect(secrets.refreshToken.length).toBeGreaterThan(10);
    // Only public keys are kept as CryptoKeys; no secret key is.
    expect(records.keyIds.sort()).toEqual(['device-ecdh.public', 'dpop.public']);

    const list: Needle[] = [
      ...needles('vault key (KEK)', secrets.kek),
      ...needles('device private key (d)', secrets.d),
      ...needles('device private key (PKCS #8)', secrets.pkcs8),
      ...needles('DPoP private key (d)', secrets.dpopD),
      ...needles('token key', secrets.tokenRaw),
      ...secrets.deks.flatMap((dek) => needles('data key', dek)),
      ...textNeedles('refresh token', secrets.refreshToken),
      ...textNeedles('patient id', patientId),
      ...textNeedles('patient name', 'Quixotewell'),
      ...textNeedles('notes', notes),
    ];

    // Every stored record and blob, read back through the page.
    const dumped = await dumpIndexedDb(page);
    expect(dumped.length).toBeGreaterThan(4);
    expect(dumped.flatMap((d) => found(d.label, d.bytes, list))).toEqual([]);
    // localStorage, too (server config cache, device id, settings).
    const local = await page.evaluate(() => JSON.stringify({ ...localStorage }));
    expect(found('localStorage', Buffer.from(local), list)).toEqual([]);

    await context.close();
    context = undefined;

    // Every file of the profile, after Chromium wrote and closed it.
    const files = await filesUnder(profile);
    expect(files.some((file) => file.includes('IndexedDB'))).toBe(true);
    const hits: string[] = [];
    let publicKeySeen = false;
    const publicX = Buffer.from(bytesOf(records.publicRaw).subarray(1, 33));
    for (const file of files) {
      const bytes = await readFile(file);
      hits.push(...found(path.relative(profile, file), bytes, list));
      if (bytes.includes(publicX)) publicKeySeen = true;
    }
    expect(hits).toEqual([]);
    // The control: the scan does see what IndexedDB stores of a CryptoKey (the public key's x).
    expect(publicKeySeen).toBe(true);
  } finally {
    await context?.close();
    await rm(profile, { recursive: true, force: true, maxRetries: 5 });
    await rm(photo, { force: true });
  }
});

test('offline grace with a controlled clock: past the limit the queue shows no patient and the patient list is closed; capture still works; reaching the server opens them again', async ({
  page,
  context,
}) => {
  await page.clock.install();
  await openApp(page, stack);
  await signInThroughIssuer(page, stack, 'Pat Paramedic');
  const grace = await (await fetch(`${stack.url}/edge-config`)).json();
  expect(grace).toMatchObject({ offlineGraceMs: 12 * 60 * 60 * 1000 });

  await context.setOffline(true);
  await tab(page, 'Capture').click();
  const f = captureForm(page);
  await page.getByLabel('Choose X-ray files').setInputFiles(stack.files.png.path);
  await typePatient(page, 'P-GRACE-1');
  await f.bodyPart.selectOption('HAND');
  await f.view.selectOption('PA');
  await f.save.click();
  await expect(f.notice).toContainText('queued to send');
  await tab(page, 'Queue').click();
  await expect(queueItems(page).first()).toContainText('P-GRACE-1');
  await expect(page.getByTestId('details-locked')).toHaveCount(0);

  // Still offline, 11 h later: within the grace period.
  await page.clock.fastForward('11:00:00');
  await expect(queueItems(page).first()).toContainText('P-GRACE-1');

  // Past 12 h without the server: the details close by themselves.
  await page.clock.fastForward('01:01:00');
  await expect(page.getByTestId('details-locked')).toContainText('Sign in to see them');
  await expect(queueItems(page).first()).toContainText('Patient details locked');
  await expect(page.getByRole('list', { name: 'Captured X-rays' })).not.toContainText('P-GRACE-1');
  await tab(page, 'Sign in').click();
  await expect(page.getByTestId('grace-expired')).toBeVisible();

  // Capturing never waits for the sign-in.
  await tab(page, 'Capture').click();
  await page.getByLabel('Choose X-ray files').setInputFiles(stack.files.jpeg.path);
  await typePatient(page, 'P-GRACE-2');
  await f.bodyPart.selectOption('KNEE');
  await f.view.selectOption('AP');
  await f.save.click();
  await expect(f.notice).toContainText('Saved knee.jpg (KNEE AP) for patient P-GRACE-2');
  await tab(page, 'Queue').click();
  await expect(queueItems(page)).toHaveCount(2);
  await expect(page.getByRole('list', { name: 'Captured X-rays' })).not.toContainText('P-GRACE');

  // Back online: the app reaches the server again and the details open (the device is unlocked).
  await context.setOffline(false);
  await page.clock.fastForward('00:01:05');
  await expect(page.getByTestId('details-locked')).toHaveCount(0);
  await expect(queueItems(page).filter({ hasText: 'P-GRACE-2' })).toHaveCount(1);
});

test('a reload locks the device: no patient details and nothing sent until the PIN; a wrong PIN is refused with a clear message', async ({
  page,
}) => {
  await openApp(page, stack);
  await signInThroughIssuer(page, stack, 'Pat Paramedic');
  await page.reload();
  await expect(page.locator('body[data-ready="true"]')).toBeAttached();
  await expect(page.getByRole('heading', { name: 'Unlock for this shift' })).toBeVisible();
  await page.getByLabel('PIN', { exact: true }).fill('000000');
  await page.getByRole('main').getByRole('button', { name: 'Unlock', exact: true }).click();
  await expect(page.getByRole('alert')).toHaveText('Wrong PIN. 4 attempts left before a pause.');
  // Capture works while locked.
  await page.getByRole('button', { name: 'Capture without unlocking' }).click();
  const f = captureForm(page);
  await page.getByLabel('Choose X-ray files').setInputFiles(stack.files.png.path);
  await typePatient(page, 'P-LOCKED-1');
  await f.bodyPart.selectOption('HAND');
  await f.view.selectOption('PA');
  await f.save.click();
  await expect(f.notice).toContainText('queued to send');
  await tab(page, 'Queue').click();
  await expect(page.getByTestId('details-locked')).toContainText('unlock with the shift PIN');
  await expect(page.getByRole('list', { name: 'Captured X-rays' })).not.toContainText('P-LOCKED-1');
  await page.getByTestId('details-locked').getByRole('button', { name: 'Unlock' }).click();
  await unlockShift(page);
  await tab(page, 'Queue').click();
  await expect(queueItems(page).filter({ hasText: 'P-LOCKED-1' })).toHaveCount(1);
});
