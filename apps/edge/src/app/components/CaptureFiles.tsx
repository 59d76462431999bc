import type { ContentType, DicomTags } from '@xray/shared';
import { readableDicomName } from '../../capture/patient-check.ts';
import type { WatchedFolder } from '../../shell/shell.api.ts';
import { formatBytes } from '../format.ts';
import type { PendingFile } from '../screens/usePendingFiles.ts';
import { FileDrop } from './FileDrop.tsx';
import { Preview } from './Preview.tsx';

const TYPE_LABELS: Record<ContentType, string> = {
  'application/dicom': 'DICOM',
  'image/png': 'PNG',
  'image/jpeg': 'JPEG',
};

/**
 * The capture screen's files: where they come in, the ones refused and why, and the current one
 * (preview, DICOM header, what waits after it) with a way to discard it.
 */
export function CaptureFiles({
  onFiles,
  folder,
  rejected,
  current,
  waiting,
  onDiscard,
  onPreviewSettled,
}: {
  onFiles(files: File[]): void;
  folder: WatchedFolder | undefined;
  /** Why the last files refused were refused. */
  rejected: string[];
  current: PendingFile | undefined;
  /** The files after the current one. */
  waiting: PendingFile[];
  onDiscard(file: PendingFile): void;
  /** The current file's preview is drawn (or cannot be). */
  onPreviewSettled?(file: PendingFile): void;
}) {
  return (
    <div className="capture-files">
      <FileDrop onFiles={onFiles} folder={folder} />
      {rejected.length > 0 && (
        <div className="message message-error" role="alert" data-testid="file-problems">
          {rejected.map((m) => (
            <p key={m}>{m}</p>
          ))}
        </div>
      )}
      {current ? (
        <div className="current-file" data-testid="current-file">
          <h2>
            {current.name}{' '}
            <span className="tag">
              {TYPE_LABELS[current.contentType]} · {formatBytes(current.file.size)}
            </span>
          </h2>
          <div className="current-file-body">
            <Preview
              key={current.key}
              file={current.file}
              contentType={current.contentType}
              name={current.name}
              onSettled={() => onPreviewSettled?.(current)}
            />
            {current.dicom && <DicomHeader tags={current.dicom} />}
          </div>
          {current.dicomWarning && <p className="message message-warning">{current.dicomWarning}</p>}
          {waiting.length > 0 && (
            <p className="hint">
              {waiting.length} more file{waiting.length > 1 ? 's' : ''} after this one:{' '}
              {waiting.map((p) => p.name).join(', ')}
            </p>
          )}
          <button type="button" className="button" onClick={() => onDiscard(current)}>
            Discard this file
          </button>
        </div>
      ) : (
        <p className="hint empty">No file chosen yet.</p>
      )}
    </div>
  );
}

/** What the file's DICOM header says, for the paramedic to compare with the patient in front of them. */
function DicomHeader({ tags }: { tags: DicomTags }) {
  return (
    <dl className="dicom-tags" aria-label="DICOM header">
      {tags.patientId && (
        <>
          <dt>Patient ID</dt>
          <dd>{tags.patientId}</dd>
        </>
      )}
      {tags.patientName && (
        <>
          <dt>Patient name</dt>
          <dd>{readableDicomName(tags.patientName)}</dd>
        </>
      )}
      {tags.modality && (
        <>
          <dt>Modality</dt>
          <dd>{tags.modality}</dd>
        </>
      )}
      {tags.studyDate && (
        <>
          <dt>Study date</dt>
          <dd>{tags.studyDate}</dd>
        </>
      )}
      {tags.rows && tags.columns && (
        <>
          <dt>Size</dt>
          <dd>
            {tags.columns} × {tags.rows}
          </dd>
        </>
      )}
    </dl>
  );
}
