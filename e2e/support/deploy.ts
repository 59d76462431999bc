import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildEdgeApp } from './stack.ts';

/** Builds the app as version `version` and puts it where the server serves the app from: a deployment. */
export async function deployNewVersion(siteDir: string, version: string): Promise<void> {
  const out = await mkdtemp(path.join(tmpdir(), 'xray-e2e-deploy-'));
  try {
    buildEdgeApp(out, version);
    await cp(out, siteDir, { recursive: true, force: true });
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
