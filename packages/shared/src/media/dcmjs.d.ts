/** The part of dcmjs (https://github.com/dcmjs-org/dcmjs) the service uses; dcmjs itself ships no types. */

/** An attribute as dcmjs reads it: DICOM JSON's shape (PS3.18 F.2), binary values as ArrayBuffers. */
export interface DcmjsElement {
  vr: string;
  Value?: unknown[];
  /** dcmjs keeps the value as read, for lossless writing: not part of DICOM JSON. */
  _rawValue?: unknown;
}
export type DcmjsDict = Record<string, DcmjsElement>;

export interface DcmjsDictionaryEntry {
  /** `(0010,0010)`, or with `x` for a group or element range. */
  tag: string;
  vr: string;
  name: string;
  vm: string;
}

export declare const data: {
  DicomMessage: {
    readFile(
      buffer: ArrayBuffer,
      options?: { ignoreErrors?: boolean; untilTag?: string; includeUntilTagValue?: boolean; noCopy?: boolean },
    ): { meta: DcmjsDict; dict: DcmjsDict };
  };
  DicomMetaDictionary: {
    /** By tag, `(0010,0010)`. */
    dictionary: Record<string, DcmjsDictionaryEntry>;
    /** By keyword, `PatientName`. */
    nameMap: Record<string, DcmjsDictionaryEntry>;
  };
};

/** dcmjs's loglevel loggers (`validation.dcmjs` reports VRs it had to guess). */
export declare const log: {
  getLogger(name: string): { setLevel(level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent'): void };
};
