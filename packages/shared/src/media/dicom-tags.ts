import { z } from 'zod';
import { unpadded, type DicomHeader } from './dicom-header.ts';

export {
  DICOM_HEADER_PREFIX_BYTES,
  DICOM_HEADER_TOO_LONG,
  DICOM_MAX_HEADER_BYTES,
  DicomParseError,
} from './dicom-header.ts';
export type { DicomParseErrorCode } from './dicom-header.ts';

/** The tags the service records from a DICOM file; tags absent from the file are omitted. */
export const DicomTagsSchema = z.object({
  patientId: z.string().optional(),
  /**
   * IssuerOfPatientID (0010,0021): the assigning authority that issued `patientId` (another
   * hospital's modality writes its own). Absent: the file does not say (and rows stored before it
   * was recorded lack it).
   */
  issuerOfPatientId: z.string().optional(),
  patientName: z.string().optional(),
  patientBirthDate: z.string().optional(),
  patientSex: z.string().optional(),
  studyDate: z.string().optional(),
  studyInstanceUid: z.string().optional(),
  seriesInstanceUid: z.string().optional(),
  sopInstanceUid: z.string().optional(),
  modality: z.string().optional(),
  bodyPartExamined: z.string().optional(),
  viewPosition: z.string().optional(),
  rows: z.number().int().nonnegative().optional(),
  columns: z.number().int().nonnegative().optional(),
  bitsAllocated: z.number().int().nonnegative().optional(),
  transferSyntaxUid: z.string().optional(),
});
export type DicomTags = z.infer<typeof DicomTagsSchema>;

type StringTagKey = Exclude<keyof DicomTags, 'rows' | 'columns' | 'bitsAllocated' | 'transferSyntaxUid'>;
type UsTagKey = 'rows' | 'columns' | 'bitsAllocated';

const STRING_TAGS: Readonly<Record<StringTagKey, string>> = {
  patientId: '00100020',
  issuerOfPatientId: '00100021',
  patientName: '00100010',
  patientBirthDate: '00100030',
  patientSex: '00100040',
  studyDate: '00080020',
  studyInstanceUid: '0020000D',
  seriesInstanceUid: '0020000E',
  sopInstanceUid: '00080018',
  modality: '00080060',
  bodyPartExamined: '00180015',
  viewPosition: '00185101',
};
const US_TAGS: Readonly<Record<UsTagKey, string>> = {
  rows: '00280010',
  columns: '00280011',
  bitsAllocated: '00280100',
};

/** A person name as the file writes it: its component groups (alphabetic, ideographic, phonetic) joined by `=`. */
function personName(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const groups = ['Alphabetic', 'Ideographic', 'Phonetic'].map((k) => {
    const g: unknown = Reflect.get(v, k);
    return typeof g === 'string' ? g : '';
  });
  while (groups.length && groups[groups.length - 1] === '') groups.pop();
  return groups.join('=') || undefined;
}

/**
 * A string attribute as the file writes it (values joined by `\`, as Orthanc reports them);
 * undefined when empty. What dicomTagsOf records, for a caller reading one attribute of a dataset.
 */
export function stringOf(element: { vr: string; Value?: unknown[] } | undefined): string | undefined {
  if (!element?.Value?.length) return undefined;
  const values = element.Value;
  const text = values
    .map((v) =>
      unpadded(
        element.vr === 'PN' ? (personName(v) ?? '') : typeof v === 'string' || typeof v === 'number' ? String(v) : '',
      ),
    )
    .join('\\')
    // A NUL inside a value (a damaged file) would make the row unstorable (PostgreSQL text, jsonb).
    .replaceAll('\u0000', '\uFFFD')
    .trim();
  return text === '' ? undefined : text;
}

/** The recorded tags of a header already read (the DicomReader's readDicomHeader). */
export function dicomTagsOf({ meta, dataset }: DicomHeader): DicomTags {
  const tags: DicomTags = {};
  for (const [key, tag] of Object.entries(STRING_TAGS) as [StringTagKey, string][]) {
    const value = stringOf(dataset[tag]);
    if (value !== undefined) tags[key] = value;
  }
  for (const [key, tag] of Object.entries(US_TAGS) as [UsTagKey, string][]) {
    const value = dataset[tag]?.Value?.[0];
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) tags[key] = value;
  }
  const ts = stringOf(meta['00020010']);
  if (ts !== undefined) tags.transferSyntaxUid = ts;
  return tags;
}
