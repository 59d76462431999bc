import { useCallback, useRef, useState } from 'react';
import { checkFile, fileName, type FileHead } from '../../capture/file-check.ts';
import { useServices } from '../services.ts';

/** A file picked, dropped or found in the detector folder, checked (its head read) and waiting for its details. */
export interface PendingFile extends FileHead {
  key: string;
  file: File;
  name: string;
  dicomWarning?: string;
}

/**
 * The capture screen's files: each checked as it comes in (type, size, structure; the refusals
 * kept to show), the accepted ones waiting in arrival order. The first is the one being described.
 */
export function usePendingFiles() {
  const { serverConfig } = useServices();
  const [pending, setPending] = useState<PendingFile[]>([]);
  const [rejected, setRejected] = useState<string[]>([]);
  const counter = useRef(0);

  /** Checks and adds files; resolves once they are in (or refused). */
  const add = useCallback(
    async (files: File[]): Promise<void> => {
      const limit = serverConfig.current().maxUploadBytes;
      const accepted: PendingFile[] = [];
      const refused: string[] = [];
      for (const file of files) {
        const check = await checkFile(file, limit, fileName(file));
        if (!check.ok) refused.push(check.problem.message);
        else {
          const { ok: _ok, ...head } = check;
          accepted.push({ key: `f${++counter.current}`, file, name: fileName(file), ...head });
        }
      }
      setRejected(refused);
      if (accepted.length) setPending((list) => [...list, ...accepted]);
    },
    [serverConfig],
  );
  const remove = useCallback((key: string) => setPending((list) => list.filter((p) => p.key !== key)), []);

  return { current: pending[0], waiting: pending.slice(1), rejected, add, remove };
}
