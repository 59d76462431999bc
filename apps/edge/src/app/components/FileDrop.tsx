import { useEffect, useState, type DragEvent } from 'react';
import type { WatchedFolder } from '../../shell/shell.api.ts';

/**
 * Where X-ray files come in: a big picker button, a drop zone for drag-and-drop, and in the
 * Electron shell the detector's export folder (new files arrive by themselves).
 */
export function FileDrop({ onFiles, folder }: { onFiles(files: File[]): void; folder: WatchedFolder | undefined }) {
  const [over, setOver] = useState(false);
  const [watching, setWatching] = useState<string | null>(null);
  useEffect(() => {
    if (!folder) return;
    void folder.current().then(setWatching);
    return folder.onFile((f) => onFiles([new File([f.bytes], f.name, { lastModified: f.lastModified })]));
  }, [folder, onFiles]);

  const drop = (e: DragEvent<HTMLDivElement>): void => {
    e.preventDefault();
    setOver(false);
    const files = Array.from(e.dataTransfer.files);
    if (files.length) onFiles(files);
  };
  return (
    <div
      className={`drop ${over ? 'drop-over' : ''}`}
      data-testid="drop-zone"
      onDragOver={(e) => {
        e.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={drop}
    >
      <label className="button button-primary button-wide" htmlFor="xray-files">
        Choose X-ray files
      </label>
      <input
        id="xray-files"
        className="visually-hidden"
        type="file"
        autoComplete="off"
        multiple
        accept=".dcm,.dicom,application/dicom,image/png,image/jpeg"
        onChange={(e) => {
          const files = Array.from(e.target.files ?? []);
          e.target.value = '';
          if (files.length) onFiles(files);
        }}
      />
      <p className="hint">or drop DICOM, PNG or JPEG files here</p>
      {folder && (
        <p className="hint" data-testid="watched-folder">
          {watching ? `Watching the detector folder ${watching}` : 'No detector folder watched.'}{' '}
          <button
            type="button"
            className="button button-small"
            onClick={() => void folder.choose().then((f) => f && setWatching(f))}
          >
            {watching ? 'Change folder' : 'Choose folder'}
          </button>
        </p>
      )}
    </div>
  );
}
