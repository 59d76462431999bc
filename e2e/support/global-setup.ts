import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeTestFiles } from './files.ts';
import { buildEdgeTestPage, startStack } from './stack.ts';

/** Once per run: build the edge test page, write the X-ray files, start the real server stack. */
export default async function globalSetup(): Promise<() => Promise<void>> {
  buildEdgeTestPage();
  const filesDir = await mkdtemp(path.join(tmpdir(), 'xray-e2e-files-'));
  const files = await writeTestFiles(filesDir);
  const stack = await startStack();
  // Workers read the stack from the environment (Playwright passes global setup's env on).
  process.env.E2E_STACK = JSON.stringify({ url: stack.url, tokens: stack.tokens, files });
  return async () => {
    await stack.stop();
    await rm(filesDir, { recursive: true, force: true });
  };
}
