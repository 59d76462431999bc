import { Readable } from 'node:stream';
import type { DicomHeader } from '@xray/shared';
import { LRUCache } from 'lru-cache';
import { DomainError } from '../errors.ts';
import type { ByteRange } from '../storage/index.ts';
import { parseAccept } from './dicomweb.accept.ts';

/**
 * WADO-RS Retrieve Frames (PS3.18 10.4.1.1.4, `…/instances/{instance}/frames/{frames}`): which
 * frames a request names, what it may be answered as, and where each frame's bytes are in the
 * stored file. Nothing here holds the X-ray: a frame is located from the header (read to the pixel
 * data) and, for compressed pixel data, its fragments' item headers; its bytes are then opened as
 * a plaintext byte range and streamed (fragments' item headers stripped on the way).
 */

/** The most frame numbers one request may name. */
export const MAX_FRAMES_PER_REQUEST = 1000;

/**
 * The frame numbers of the path (`1`, `1,3`), 1-based, in the order asked; 400 `bad_request` naming
 * `frames` otherwise. Each at most once (PS3.18: "one or more non duplicate frame numbers"): a
 * repeated list would have one request decrypt and send the same frame up to 1000 times.
 */
export function parseFrameList(text: string | undefined): number[] {
  const bad = () =>
    new DomainError('bad_request', 'The path does not name frames: a comma-separated list of frame numbers from 1.', [
      {
        field: 'frames',
        message: `must be frame numbers from 1, separated by commas, each at most once (at most ${MAX_FRAMES_PER_REQUEST})`,
      },
    ]);
  if (!text) throw bad();
  const items = text.split(',');
  if (items.length > MAX_FRAMES_PER_REQUEST) throw bad();
  const frames = items.map((s) => {
    if (!/^[0-9]{1,9}$/.test(s)) throw bad();
    const n = Number(s);
    if (n < 1) throw bad();
    return n;
  });
  if (new Set(frames).size !== frames.length) throw bad();
  return frames;
}

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
/** Native (uncompressed) little endian: a frame's bytes are the same in both. */
const NATIVE_LE: ReadonlySet<string> = new Set([IMPLICIT_LE, EXPLICIT_LE]);

/** Encapsulated (compressed) pixel data, as the DICOM walker takes it at ingest (PS3.5 A.4). */
const isEncapsulatedSyntax = (ts: string): boolean => /^1\.2\.840\.10008\.1\.2\.(4\.\d+|5|8\.\d+)$/.test(ts);
/** MPEG-2/4, HEVC (PS3.5 8.2.5-8.2.7): one video stream, not frames one can take apart. */
const isVideoSyntax = (ts: string): boolean => /^1\.2\.840\.10008\.1\.2\.4\.10[0-8]$/.test(ts);

/** The media type of a compressed frame's bitstream (PS3.18 Table 8.7.3-5). */
const FRAME_MEDIA: Readonly<Record<string, string>> = {
  '1.2.840.10008.1.2.4.50': 'image/jpeg',
  '1.2.840.10008.1.2.4.51': 'image/jpeg',
  '1.2.840.10008.1.2.4.57': 'image/jpeg',
  '1.2.840.10008.1.2.4.70': 'image/jpeg',
  '1.2.840.10008.1.2.4.80': 'image/jls',
  '1.2.840.10008.1.2.4.81': 'image/jls',
  '1.2.840.10008.1.2.4.90': 'image/jp2',
  '1.2.840.10008.1.2.4.91': 'image/jp2',
  '1.2.840.10008.1.2.4.92': 'image/jpx',
  '1.2.840.10008.1.2.4.93': 'image/jpx',
  '1.2.840.10008.1.2.4.110': 'image/jxl',
  '1.2.840.10008.1.2.4.111': 'image/jxl',
  '1.2.840.10008.1.2.4.112': 'image/jxl',
  '1.2.840.10008.1.2.4.201': 'image/jphc',
  '1.2.840.10008.1.2.4.202': 'image/jphc',
  '1.2.840.10008.1.2.4.203': 'image/jphc',
  '1.2.840.10008.1.2.5': 'image/dicom-rle',
};
/** The experimental names clients still send (PS3.18 replaced them). */
const MEDIA_ALIASES: Readonly<Record<string, string>> = {
  'image/x-dicom-rle': 'image/dicom-rle',
  'image/x-jls': 'image/jls',
};

/** What the frames are answered as: each part's media type and the transfer syntax it names. */
export interface FramesAnswer {
  partType: string;
  transferSyntax: string;
}

/**
 * The answer's type for a client's `Accept`, from the stored transfer syntax (nothing is
 * transcoded): `multipart/related; type="application/octet-stream"` (also `*\/*` and no Accept),
 * or the compressed bitstream's own type (`image/jpeg`, …), each with `transfer-syntax=*` or the
 * stored one (or none: served as stored). Native little endian frames are the same bytes in
 * Implicit and Explicit VR, so either is taken and named as asked. 406 `not_acceptable` otherwise,
 * and for pixel data stored big endian or as video.
 */
export function framesAnswerFor(accept: string | undefined, stored: string): FramesAnswer {
  const native = NATIVE_LE.has(stored);
  if (!native && (!isEncapsulatedSyntax(stored) || isVideoSyntax(stored)))
    throw new DomainError(
      'not_acceptable',
      `This instance's pixel data is stored in transfer syntax ${stored} (${isVideoSyntax(stored) ? 'a video stream' : 'not little endian'}), which is not served frame by frame; nothing is transcoded: retrieve the instance whole.`,
    );
  const media = native ? undefined : FRAME_MEDIA[stored];
  // Highest q first; the sort is stable, so equal q keeps the client's order.
  for (const r of parseAccept(accept).sort((a, b) => b.q - a.q)) {
    let part: string;
    if (r.type === '*/*' || r.type === 'multipart/*') part = 'application/octet-stream';
    else if (r.type === 'multipart/related') part = (r.params.type ?? 'application/octet-stream').toLowerCase();
    else continue;
    const ts = r.params['transfer-syntax'];
    if (part === 'application/octet-stream') {
      if (ts === undefined || ts === '*' || ts === stored) return { partType: part, transferSyntax: stored };
      if (native && NATIVE_LE.has(ts)) return { partType: part, transferSyntax: ts };
    } else if (media !== undefined && (MEDIA_ALIASES[part] ?? part) === media) {
      if (ts === undefined || ts === '*' || ts === stored) return { partType: part, transferSyntax: stored };
    }
  }
  throw new DomainError(
    'not_acceptable',
    `Frames of this instance are served as multipart/related; type="application/octet-stream"${media ? ` or type="${media}"` : ''} in their stored transfer syntax (${stored}) or with transfer-syntax=*; nothing is transcoded.`,
  );
}

/** One frame to send: a plaintext byte range of the stored file, native pixels or whole fragment items. */
export interface FramePart {
  frame: number;
  range: ByteRange;
  /** Fragment items (their headers stripped while streamed); false: the range is the frame's bytes. */
  encapsulated: boolean;
}

/** Reads a plaintext byte range of the stored X-ray (XrayService.openContent). */
export type RangeOpener = (range: ByteRange) => Promise<Readable>;

const intOf = (header: DicomHeader, tag: string): number | undefined => {
  const v = header.dataset[tag]?.Value?.[0];
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v.trim()) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
};

const cannotSplit = (why: string) =>
  new DomainError(
    'not_acceptable',
    `The frames of this instance cannot be told apart (${why}); nothing is transcoded: retrieve the instance whole.`,
  );

async function readBytes(open: RangeOpener, range: ByteRange): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await open(range)) chunks.push(Buffer.from(c as Uint8Array));
  const bytes = Buffer.concat(chunks);
  if (bytes.length !== range.end - range.start + 1)
    throw new Error(`bytes ${range.start}-${range.end} of the X-ray read as ${bytes.length} bytes`);
  return bytes;
}

const ITEM = 0xe000;
const SEQUENCE_DELIMITER = 0xe0dd;

/** Pixel data whose fragments do not parse: the response (already begun) is cut. */
export class FragmentError extends Error {
  override name = 'FragmentError';
}

/**
 * Walks pixel data items (PS3.5 A.4: `(FFFE,E000)` items, a `(FFFE,E0DD)` delimiter) from a
 * stream that starts at an item header: `onItem` for each item (its offset from the stream's
 * start and length), and its value's bytes as they pass when `values` is set. Ends at the
 * delimiter (the rest of the stream is left unread) or at the stream's end on an item boundary.
 */
async function* walkItems(
  source: AsyncIterable<Uint8Array>,
  onItem: (at: number, length: number) => void,
  values: boolean,
  onDelimiter?: (at: number) => void,
): AsyncGenerator<Buffer> {
  let head = Buffer.alloc(0);
  let remaining = 0;
  let at = 0;
  for await (const c of source) {
    let chunk = Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    while (chunk.length > 0) {
      if (remaining > 0) {
        const n = Math.min(remaining, chunk.length);
        if (values) yield chunk.subarray(0, n);
        remaining -= n;
        at += n;
        chunk = chunk.subarray(n);
        continue;
      }
      const need = 8 - head.length;
      head = Buffer.concat([head, chunk.subarray(0, need)]);
      chunk = chunk.subarray(need);
      if (head.length < 8) break;
      const group = head.readUInt16LE(0);
      const element = head.readUInt16LE(2);
      const length = head.readUInt32LE(4);
      head = Buffer.alloc(0);
      if (group === 0xfffe && element === SEQUENCE_DELIMITER) {
        onDelimiter?.(at);
        return;
      }
      if (group !== 0xfffe || element !== ITEM || length === 0xffffffff)
        throw new FragmentError(`the pixel data has no fragment item at byte ${at} of the frame's range`);
      onItem(at, length);
      at += 8;
      remaining = length;
    }
  }
  if (remaining > 0 || head.length > 0) throw new FragmentError('the pixel data ends inside a fragment');
}

/**
 * A frame's compressed bitstream: the values of the fragment items of `content`, concatenated.
 * Destroyed (a client gone, a failure), it releases `content` at once.
 */
export function fragmentValues(content: Readable): Readable {
  const values = Readable.from(
    walkItems(content, () => undefined, true),
    { objectMode: false },
  );
  values.once('close', () => content.destroy());
  return values;
}

/** Where a multi-frame file's fragment items start and where its pixel data ends (its delimiter). */
interface Fragments {
  starts: number[];
  end: number;
}

/** The most fragment items a walk takes (~10 bytes each kept): past it the file is not split (406). */
export const MAX_FRAGMENTS = 1_000_000;

/**
 * Fragment walks by X-ray (its id and sha256: the bytes never change under a key). A viewer asks
 * for each frame of a multi-frame file in its own request, often several at once: the pixel data
 * is walked once, not once per frame, and a frame asked again costs only its own bytes. Sized by
 * fragment count (a failed walk counts 1): about 40 MB at most.
 */
const walked = new LRUCache<string, Fragments | { failed: Error }>({
  max: 1000,
  maxSize: 4 * MAX_FRAGMENTS,
  sizeCalculation: (w) => ('starts' in w ? w.starts.length + 1 : 1),
});
/** Walks under way: concurrent requests for one X-ray's frames share one. */
const walking = new Map<string, Promise<Fragments>>();

async function walkFragments(first: number, size: number, open: RangeOpener): Promise<Fragments> {
  const starts: number[] = [];
  let end = size;
  const scan = walkItems(
    await open({ start: first, end: size - 1 }),
    (at) => {
      if (starts.length === MAX_FRAGMENTS) throw cannotSplit(`more than ${MAX_FRAGMENTS} fragments`);
      starts.push(first + at);
    },
    false,
    (at) => (end = first + at),
  );
  while (!(await scan.next()).done);
  return { starts, end };
}

/**
 * Walks the fragment items from `first` (their headers only are kept) to the sequence delimiter:
 * where each item starts and where the pixel data ends. No delimiter (the file ends on an item
 * boundary) ends it at the file's end. The bytes under a key never change: a walk refused for them
 * (unreadable items, too many) is not done again; one that failed reading the store is.
 */
async function fragmentsFrom(first: number, size: number, open: RangeOpener, key?: string): Promise<Fragments> {
  if (key === undefined) return walkFragments(first, size, open);
  const known = walked.get(key);
  if (known && 'failed' in known) throw known.failed;
  if (known) return known;
  let pending = walking.get(key);
  if (!pending) {
    pending = walkFragments(first, size, open)
      .then(
        (found) => {
          walked.set(key, found);
          return found;
        },
        (err: unknown) => {
          // The file's own bytes (unreadable items, too many): the same answer next time, at once.
          if (err instanceof FragmentError || err instanceof DomainError) walked.set(key, { failed: err });
          throw err;
        },
      )
      .finally(() => walking.delete(key));
    walking.set(key, pending);
  }
  return pending;
}

/**
 * Where each asked frame is in the stored file (`size` bytes, header read to its pixel data). 404
 * `not_found` for a file with no pixel data or a frame past NumberOfFrames; 406 `not_acceptable`
 * when the frames cannot be located without decoding (bits not byte-aligned across frames, several
 * fragments per frame and no Basic Offset Table saying where frames start).
 */
export async function locateFrames(
  header: DicomHeader,
  size: number,
  wanted: readonly number[],
  open: RangeOpener,
  /** The stored file's identity (X-ray id and sha256): its fragment walk is kept under it. */
  key?: string,
): Promise<{ frames: number; parts: FramePart[] }> {
  const pixels = header.pixelData;
  if (!pixels) throw new DomainError('not_found', 'The instance has no pixel data (7FE0,0010): it has no frames.');
  const frames = intOf(header, '00280008') ?? 1;
  if (frames < 1) throw cannotSplit(`NumberOfFrames is ${frames}`);
  const beyond = wanted.filter((n) => n > frames);
  if (beyond.length)
    throw new DomainError(
      'not_found',
      `The instance has ${frames} frame${frames === 1 ? '' : 's'}: there is no frame ${[...new Set(beyond)].slice(0, 10).join(', ')}.`,
    );

  if (!pixels.encapsulated) {
    const rows = intOf(header, '00280010');
    const columns = intOf(header, '00280011');
    const samples = intOf(header, '00280002') ?? 1;
    const bits = intOf(header, '00280100');
    if (!rows || !columns || !bits || samples < 1) throw cannotSplit('Rows, Columns or BitsAllocated missing');
    const frameBits = rows * columns * samples * bits;
    if (frames > 1 && frameBits % 8 !== 0) throw cannotSplit('frames do not start on a byte');
    const frameBytes = Math.ceil(frameBits / 8);
    if (pixels.length === undefined || pixels.length < frames * frameBytes)
      throw cannotSplit('the pixel data is shorter than its frames');
    return {
      frames,
      parts: wanted.map((frame) => {
        const start = pixels.valueOffset + (frame - 1) * frameBytes;
        return { frame, range: { start, end: start + frameBytes - 1 }, encapsulated: false };
      }),
    };
  }

  // The Basic Offset Table: the first item, its value the frames' offsets from the first fragment.
  const table = pixels.valueOffset;
  const itemHead = await readBytes(open, { start: table, end: Math.min(size, table + 8) - 1 });
  if (itemHead.length < 8 || itemHead.readUInt16LE(0) !== 0xfffe || itemHead.readUInt16LE(2) !== ITEM)
    throw cannotSplit('the encapsulated pixel data does not start with its offset table');
  const tableLength = itemHead.readUInt32LE(4);
  const first = table + 8 + tableLength;
  if (tableLength % 4 !== 0 || first > size) throw cannotSplit('its offset table is damaged');
  const whole = (frame: number, start: number, end = size - 1): FramePart => ({
    frame,
    range: { start, end },
    encapsulated: true,
  });
  // One frame: every fragment after the table (streaming them stops at the delimiter).
  if (frames === 1) return { frames, parts: wanted.map((frame) => whole(frame, first)) };

  // Several: the offset table says where frames start, but it is the file's word; each start must
  // be one of the fragments' own, before the pixel data ends (never bytes of what follows it).
  const { starts, end } = await fragmentsFrom(first, size, open, key);
  const upTo = (frame: number, start: number, next: number | undefined): FramePart =>
    whole(frame, start, (next ?? end) - 1);
  if (tableLength === frames * 4) {
    const bytes = await readBytes(open, { start: table + 8, end: first - 1 });
    const offsets = Array.from({ length: frames }, (_, i) => first + bytes.readUInt32LE(i * 4));
    const fragmentStarts = new Set(starts);
    const ascending = offsets[0] === first && offsets.every((o, i) => i === 0 || o > (offsets[i - 1] ?? 0));
    if (ascending && offsets.every((o) => fragmentStarts.has(o) && o < end))
      return { frames, parts: wanted.map((frame) => upTo(frame, offsets[frame - 1] ?? first, offsets[frame])) };
  }

  // No usable offset table (none, or one that does not point at the file's own fragments, in
  // order, before the delimiter): one fragment per frame is the one layout that needs no decoding to tell the
  // frames apart.
  if (starts.length !== frames)
    throw cannotSplit(
      `${starts.length} fragments for ${frames} frames and no Basic Offset Table saying where each frame starts`,
    );
  return { frames, parts: wanted.map((frame) => upTo(frame, starts[frame - 1] ?? first, starts[frame])) };
}
