import { once } from 'node:events';
import type { Server } from 'node:http';
import { addressOf } from './listen.ts';
import express from 'express';
import type { ConsultationSummary, PatientSummary } from '../integrations/patient-directory.ts';
import type { Logger } from '../observability/logger.ts';

/**
 * A development Patient Service: the two lookups the sync server makes (GET /patients/{id},
 * GET /consultations/{id}) plus the lists the edge app picks from (GET /patients?query=,
 * GET /patients/{id}/consultations, and GET /consultations?status=open for the roster), over a few
 * seeded patients and consultations. `npm start`
 * runs it when PATIENT_SERVICE_URL is unset; the tests start it on port 0. It holds no real data.
 */
export const SEED_PATIENTS: PatientSummary[] = [
  { id: 'P-1001', name: 'Maria Keller', birthDate: '1957-03-14', sex: 'female' },
  { id: 'P-1002', name: 'Jonas Weber', birthDate: '1983-11-02', sex: 'male' },
  { id: 'P-1003', name: 'Aylin Demir', birthDate: '1994-06-21', sex: 'female' },
  { id: 'P-1004', name: 'Peter Novak', birthDate: '1941-09-30', sex: 'male' },
  { id: 'P-1005', name: 'Lea Schmidt', birthDate: '2012-01-08', sex: 'female' },
];

export const SEED_CONSULTATIONS: ConsultationSummary[] = [
  {
    id: 'C-2001',
    patientId: 'P-1001',
    startedAt: '2026-11-27T08:02:00Z',
    reason: 'Fall at home, chest pain',
    status: 'open',
  },
  {
    id: 'C-2002',
    patientId: 'P-1002',
    startedAt: '2026-11-27T09:40:00Z',
    reason: 'Road accident, wrist',
    status: 'open',
  },
  {
    id: 'C-2003',
    patientId: 'P-1001',
    startedAt: '2026-10-03T14:15:00Z',
    reason: 'Shortness of breath',
    status: 'closed',
  },
  {
    id: 'C-2004',
    patientId: 'P-1003',
    startedAt: '2026-11-26T22:10:00Z',
    reason: 'Sports injury, knee',
    status: 'open',
  },
  {
    id: 'C-2005',
    patientId: 'P-1004',
    startedAt: '2026-11-27T07:30:00Z',
    reason: 'Suspected hip fracture',
    status: 'open',
  },
];

export interface DevPatientService {
  url: string;
  port: number;
  /** Lookups answered (GET /patients/{id}, GET /consultations/{id}): shows the client's cache at work. */
  lookups(): number;
  stop(): Promise<void>;
}

export async function startDevPatientService(
  opts: { port: number; host?: string; log?: Logger } = { port: 0 },
): Promise<DevPatientService> {
  const patients = new Map(SEED_PATIENTS.map((p) => [p.id, p]));
  const consultations = new Map(SEED_CONSULTATIONS.map((c) => [c.id, c]));
  let lookups = 0;
  const app = express();
  app.disable('x-powered-by');
  // The edge app (another origin in development) reads the lists directly.
  app.use((req, res, next) => {
    res.set('Access-Control-Allow-Origin', '*');
    if (req.method === 'OPTIONS') {
      res.set('Access-Control-Allow-Methods', 'GET').set('Access-Control-Allow-Headers', '*').status(204).end();
      return;
    }
    next();
  });
  const notFound = (res: express.Response, what: string) =>
    res.status(404).type('application/problem+json').json({ title: 'Not found', status: 404, detail: what });

  app.get('/patients', (req, res) => {
    const raw = req.query.query;
    const q = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
    const items = SEED_PATIENTS.filter(
      (p) => !q || p.id.toLowerCase().includes(q) || (p.name ?? '').toLowerCase().includes(q),
    );
    res.json({ items });
  });
  app.get('/patients/:id', (req, res) => {
    lookups++;
    const p = patients.get(req.params.id);
    if (!p) return notFound(res, `There is no patient ${req.params.id}.`);
    res.json(p);
  });
  app.get('/patients/:id/consultations', (req, res) => {
    if (!patients.has(req.params.id)) return notFound(res, `There is no patient ${req.params.id}.`);
    res.json({ items: SEED_CONSULTATIONS.filter((c) => c.patientId === req.params.id) });
  });
  // The open consultations (the sync server's GET /roster reads them with the patient list).
  app.get('/consultations', (req, res) => {
    const status = typeof req.query.status === 'string' ? req.query.status : undefined;
    res.json({ items: SEED_CONSULTATIONS.filter((c) => !status || c.status === status) });
  });
  app.get('/consultations/:id', (req, res) => {
    lookups++;
    const c = consultations.get(req.params.id);
    if (!c) return notFound(res, `There is no consultation ${req.params.id}.`);
    res.json(c);
  });
  app.use((_req, res) => notFound(res, 'No such route.'));

  const server: Server = app.listen(opts.port, opts.host ?? '127.0.0.1');
  await once(server, 'listening');
  const { port } = addressOf(server);
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  opts.log?.info({ url, patients: SEED_PATIENTS.map((p) => p.id) }, 'development Patient Service running');
  return {
    url,
    port,
    lookups: () => lookups,
    async stop() {
      server.close();
      server.closeAllConnections();
      await once(server, 'close').catch(() => undefined);
    },
  };
}
