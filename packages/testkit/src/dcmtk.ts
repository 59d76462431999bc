import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Runs a dcmtk tool (Debian package `dcmtk`). Fails with a hint when it is missing, rather
 * than skipping: these checks are the point of the tests.
 */
export async function dcmtk(tool: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await execFileAsync(tool, args, { maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' });
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') {
      throw new Error(`${tool} not found: install dcmtk (apt-get install -y --no-install-recommends dcmtk)`, {
        cause: error,
      });
    }
    throw error;
  }
}
