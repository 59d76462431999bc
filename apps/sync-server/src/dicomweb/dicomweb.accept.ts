import { DomainError } from '../errors.ts';

/**
 * What a DICOMweb client accepts (the `Accept` header, RFC 9110 12.5.1, with the DICOM
 * parameters of PS3.18 8.7.3: `type`, `transfer-syntax`). Ranges with q=0 are refused ones.
 */
export interface MediaRange {
  type: string;
  params: Record<string, string>;
  q: number;
}

/** Splits on `sep` outside double quotes. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
    else if (c === sep && !quoted) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

export function parseAccept(header: string | undefined): MediaRange[] {
  if (header === undefined || header.trim() === '') return [{ type: '*/*', params: {}, q: 1 }];
  const ranges: MediaRange[] = [];
  for (const part of splitOutsideQuotes(header, ',')) {
    const [type = '', ...rest] = splitOutsideQuotes(part, ';').map((s) => s.trim());
    if (!type) continue;
    const params: Record<string, string> = {};
    let q = 1;
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const name = p.slice(0, eq).trim().toLowerCase();
      const value = p
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
      if (name === 'q') q = Number.isFinite(Number(value)) ? Number(value) : 1;
      else params[name] = value;
    }
    ranges.push({ type: type.toLowerCase(), params, q });
  }
  return ranges.filter((r) => r.q > 0);
}

/** QIDO-RS and /metadata: DICOM JSON, as `application/dicom+json` or, asked for, `application/json`. */
export function dicomJsonTypeFor(accept: string | undefined): 'application/dicom+json' | 'application/json' {
  for (const r of parseAccept(accept).sort((a, b) => b.q - a.q)) {
    if (r.type === 'application/dicom+json' || r.type === '*/*' || r.type === 'application/*')
      return 'application/dicom+json';
    if (r.type === 'application/json') return 'application/json';
    // multipart/related; type="application/dicom+json" (PS3.18 8.7.3.4) is answered as plain DICOM JSON.
  }
  throw new DomainError(
    'not_acceptable',
    'DICOM JSON is served as application/dicom+json (or application/json); the Accept header asks for neither.',
  );
}

/**
 * WADO-RS retrieve: `multipart/related; type="application/dicom"`, the instances as stored. A
 * client asking for a transfer syntax other than every instance's own (or `*`) is refused:
 * nothing is transcoded.
 */
export function assertRetrieveAcceptable(accept: string | undefined, storedSyntaxes: readonly string[]): void {
  for (const r of parseAccept(accept)) {
    const multipart = r.type === 'multipart/related' || r.type === 'multipart/*' || r.type === '*/*';
    if (!multipart) continue;
    const type = r.params.type?.toLowerCase() ?? (r.type === 'multipart/related' ? 'application/dicom' : undefined);
    if (type !== undefined && type !== 'application/dicom') continue;
    const ts = r.params['transfer-syntax'];
    if (ts === undefined || ts === '*' || storedSyntaxes.every((s) => s === ts)) return;
  }
  throw new DomainError(
    'not_acceptable',
    `Instances are served as multipart/related; type="application/dicom" in their stored transfer syntax (${[...new Set(storedSyntaxes)].join(', ')}) or with transfer-syntax=*; nothing is transcoded.`,
  );
}
