/** The page's script (bundled by esbuild): fetches the file, measures, hands the numbers back. */
import { measureXre1, type Xre1Run } from './xre1.measure.ts';

declare global {
  interface Window {
    runXre1Bench(fileUrl: string, runs: number): Promise<Xre1Run[]>;
  }
}

window.runXre1Bench = async (fileUrl, runs) => {
  const bytes = new Uint8Array(await (await fetch(fileUrl)).arrayBuffer());
  return measureXre1(bytes, runs);
};
