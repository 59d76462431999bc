import { useCallback, useState } from 'react';
import { CaptureFiles } from '../components/CaptureFiles.tsx';
import { CaptureForm } from '../components/CaptureForm.tsx';
import { useDetailsLock, useRoster, useServices } from '../services.ts';
import { useCaptureForm } from './useCaptureForm.ts';
import { usePendingFiles } from './usePendingFiles.ts';

/**
 * The capture screen: files in, details from the paramedic (DICOM tags fill what they can),
 * one Save per X-ray. Saving encrypts and stores the X-ray on this device; it never needs the
 * network or a sign-in. Messages come from the shared X-ray schema (via the capture service).
 * The files are usePendingFiles/CaptureFiles, the details useCaptureForm/CaptureForm.
 */
export function CaptureScreen({ onSaved }: { onSaved?(): void }) {
  const { shell, roster: rosterStore, gate } = useServices();
  const rosterState = useRoster(rosterStore);
  const detailsLock = useDetailsLock(gate);
  // Names and birth dates are patient details: shown only while the gate allows.
  const roster = detailsLock ? undefined : rosterState.roster;
  const files = usePendingFiles();
  // The file whose preview is drawn: its sealing ahead starts then, not competing with the preview.
  const [previewed, setPreviewed] = useState<string>();
  const model = useCaptureForm({
    current: files.current,
    sealAhead: files.current !== undefined && previewed === files.current.key,
    roster,
    onSaved: (file) => {
      files.remove(file.key);
      onSaved?.();
    },
  });
  const { add } = files;
  const { clearMessages } = model;
  // New files clear what the last save said.
  const onFiles = useCallback((list: File[]) => void add(list).then(clearMessages), [add, clearMessages]);
  const rosterHint = detailsLock
    ? 'Patient list hidden (device locked or offline too long): type the patient ID.'
    : rosterState.roster
      ? 'Type part of the name or ID, then tap the patient.'
      : 'No patient list on this device yet (it is fetched once signed in online): type the patient ID.';

  return (
    <section aria-labelledby="capture-title" className="screen capture">
      <h1 id="capture-title">Capture X-ray</h1>
      <div className="capture-grid">
        <CaptureFiles
          onFiles={onFiles}
          folder={shell?.watchedFolder}
          rejected={files.rejected}
          current={files.current}
          waiting={files.waiting}
          onDiscard={(file) => files.remove(file.key)}
          onPreviewSettled={(file) => setPreviewed(file.key)}
        />
        <CaptureForm model={model} current={files.current} roster={roster} rosterHint={rosterHint} />
      </div>
    </section>
  );
}
