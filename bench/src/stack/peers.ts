import path from 'node:path';
import { startChild, type Child } from '../lib/child.ts';

const entry = path.join(import.meta.dirname, 'peers.process.ts');

interface PeerUrls {
  issuer: string;
  patientServiceUrl: string;
  doctorWebhookUrl: string;
  webhookSecret: string;
}

export interface Peers extends PeerUrls {
  child: Child;
  /** The sync server settings that point it at these services. */
  serverEnv: Record<string, string>;
  stop(): Promise<void>;
}

/** The issuer, Patient and Doctor Services the sync server uses, in one process of their own. */
export async function startPeers(dataDir: string, issuerPort: number, logFile: string): Promise<Peers> {
  const child = startChild('peers', process.execPath, ['--import', 'tsx', entry, dataDir, String(issuerPort)], {
    env: process.env,
    logFile,
  });
  try {
    const peers = JSON.parse((await child.waitForLine(/^peers (\{.*\})$/))[1] ?? '') as PeerUrls;
    return {
      ...peers,
      child,
      serverEnv: {
        OIDC_ISSUER: peers.issuer,
        PATIENT_SERVICE_URL: peers.patientServiceUrl,
        DOCTOR_SERVICE_URL: peers.doctorWebhookUrl,
        WEBHOOK_SECRET: peers.webhookSecret,
      },
      stop: () => child.stop(),
    };
  } catch (err) {
    await child.stop('SIGKILL');
    throw err;
  }
}
