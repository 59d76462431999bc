import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { responseCheckFailure, summarizeResponseCheck } from '@xray/testkit';
import { writeTestFiles } from './files.ts';
import { E2E_PATIENT_ID_ISSUER, EDGE_TEST_PAGE_DIR, buildEdgeApp, buildEdgeTestPage, startStack } from './stack.ts';

/**
 * Once per run: build the edge app (as `npm start` serves it) and the core's test page into one
 * site directory the server serves, write the X-ray files, start the real server stack. At the
 * end, a response of the server that differs from openapi.json fails the run.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  const siteDir = await mkdtemp(path.join(tmpdir(), 'xray-e2e-site-'));
  buildEdgeTestPage();
  await cp(EDGE_TEST_PAGE_DIR, siteDir, { recursive: true });
  const appDir = path.join(siteDir, '..', `${path.basename(siteDir)}-app`);
  buildEdgeApp(appDir, 'e2e-1');
  await cp(appDir, siteDir, { recursive: true });
  await rm(appDir, { recursive: true, force: true });

  const filesDir = await mkdtemp(path.join(tmpdir(), 'xray-e2e-files-'));
  const files = await writeTestFiles(filesDir);
  // Every answer the server gives the browser and the tests, checked against openapi.json.
  const checkDir = await mkdtemp(path.join(tmpdir(), 'xray-e2e-openapi-'));
  const checkFile = path.join(checkDir, 'responses.jsonl');
  const stack = await startStack({
    appDir: siteDir,
    env: { OPENAPI_RESPONSE_CHECK: checkFile, PATIENT_ID_ISSUER: E2E_PATIENT_ID_ISSUER },
  });
  // Workers read the stack from the environment (Playwright passes global setup's env on).
  process.env.E2E_STACK = JSON.stringify({
    url: stack.url,
    metricsUrl: stack.metricsUrl,
    issuer: stack.issuer,
    patientServiceUrl: stack.patientServiceUrl,
    doctorReceivedUrl: stack.doctorReceivedUrl,
    amqp: stack.amqp,
    tokens: stack.tokens,
    files,
    siteDir,
    filesDir,
  });
  return async () => {
    await stack.stop();
    await rm(filesDir, { recursive: true, force: true });
    await rm(siteDir, { recursive: true, force: true });
    const failure = responseCheckFailure(summarizeResponseCheck(checkFile), `report: ${checkFile}`);
    if (failure) throw new Error(failure);
    await rm(checkDir, { recursive: true, force: true });
  };
}
