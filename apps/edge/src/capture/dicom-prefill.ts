import { VIEWS, type DicomTags } from '@xray/shared';

/** The capture fields a DICOM file's own tags can fill. */
export const PREFILL_FIELDS = ['patientId', 'bodyPart', 'view'] as const;
export type PrefillField = (typeof PREFILL_FIELDS)[number];

const present = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';
const asView = (v: string | undefined): (typeof VIEWS)[number] | undefined => VIEWS.find((view) => view === v);

/**
 * What a DICOM file fills in, as the one rule the capture screen (shown as "from DICOM" while the
 * paramedic still sees the fields) and the capture service (an X-ray captured without the form,
 * e.g. a detector's C-STORE) both follow: only fields left blank, PatientID as is, BodyPartExamined
 * upper-cased, ViewPosition only when it is one of the views the schema knows. Returns just the
 * filled fields; whether the file's patient is the right one is patient-check.ts's to say.
 */
export function dicomPrefill(
  entered: Partial<Record<PrefillField, string | undefined>>,
  tags: DicomTags | undefined,
): Partial<Record<PrefillField, string>> {
  if (!tags) return {};
  const filled: Partial<Record<PrefillField, string>> = {};
  const { patientId, bodyPartExamined } = tags;
  const view = asView(tags.viewPosition?.toUpperCase());
  if (!present(entered.patientId) && present(patientId)) filled.patientId = patientId;
  if (!present(entered.bodyPart) && present(bodyPartExamined)) filled.bodyPart = bodyPartExamined.toUpperCase();
  if (!present(entered.view) && view) filled.view = view;
  return filled;
}
