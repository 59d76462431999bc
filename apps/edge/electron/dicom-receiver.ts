import { createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import dimse from 'dcmjs-dimse';
import type { association as dimseAssociation, requests as dimseRequests } from 'dcmjs-dimse';
import { checkFile } from '../src/capture/file-check.ts';

type Association = dimseAssociation.Association;
type PresentationContext = dimseAssociation.PresentationContext;
type CStoreRequest = dimseRequests.CStoreRequest;

const { Scp, Dataset, constants, responses, log } = dimse;
const { CStoreResponse, CEchoResponse } = responses;

/**
 * The C-STORE SCP the portable detectors push to (DICOM PS3.4 Annex B, PS3.7 §9.1.1): plain
 * Node (dcmjs-dimse over a net.Server of its own), so it runs in tests without Electron.
 *
 * - Associations are refused unless the called AE title is ours, and — with an allow-list — the
 *   calling AE title is on it (A-ASSOCIATE-RJ: called / calling AE title not recognized).
 * - Only X-ray image storage (CR, DX, secondary capture) and verification (C-ECHO) are accepted,
 *   in a transfer syntax the service's own DICOM check walks (not deflated).
 * - Each instance is received into memory only (a cap stops a runaway), wrapped into a DICOM
 *   Part 10 file with the data set's bytes exactly as they came, then checked like a file a
 *   paramedic picks (`checkFile`: real type, the structural walk to the last byte, the size
 *   limit). A broken data set is answered 0xC000 and handed to no one.
 * - A good one goes to `onInstance` (in the app: to the renderer, which encrypts it into the
 *   capture queue); the C-STORE answer (0x0000) is sent only once that resolves, so a detector
 *   that saw success knows the image is durably queued. A failure there is 0xA700 (the detector
 *   may try again later).
 */

/** C-STORE status codes (PS3.4 Annex B.2.3, PS3.7 Annex C). */
export const CSTORE_STATUS = {
  success: 0x0000,
  /** Refused: out of resources (the queue could not take it; the detector may retry). */
  outOfResources: 0xa700,
  /** Error: data set does not match SOP class (here: its SOP instance UID is not the command's). */
  dataSetMismatch: 0xa900,
  /** Error: cannot understand (a broken data set). */
  cannotUnderstand: 0xc000,
} as const;

/** The storage SOP classes a detector may push: projection X-rays. */
const ACCEPTED_SOP_CLASSES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.10008.5.1.4.1.1.1', 'Computed Radiography Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.1.1', 'Digital X-Ray Image Storage – For Presentation'],
  ['1.2.840.10008.5.1.4.1.1.1.1.1', 'Digital X-Ray Image Storage – For Processing'],
  ['1.2.840.10008.5.1.4.1.1.7', 'Secondary Capture Image Storage'],
]);
const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';

const IMPLICIT_LITTLE = '1.2.840.10008.1.2';
const EXPLICIT_LITTLE = '1.2.840.10008.1.2.1';
const EXPLICIT_BIG = '1.2.840.10008.1.2.2';
/** JPEG, JPEG-LS, JPEG 2000, HTJ2K, JPEG XL (…1.2.4.*) and RLE (…1.2.5): encapsulated pixel data. */
const ENCAPSULATED = /^1\.2\.840\.10008\.1\.2\.(4\.\d+|5)$/;

/**
 * The transfer syntax to accept among those proposed: the data set is kept exactly as it came,
 * so it must be one the service's DICOM check reads. Uncompressed little endian first.
 */
function chooseTransferSyntax(proposed: readonly string[]): string | undefined {
  for (const preferred of [EXPLICIT_LITTLE, IMPLICIT_LITTLE]) if (proposed.includes(preferred)) return preferred;
  return proposed.find((uid) => ENCAPSULATED.test(uid)) ?? proposed.find((uid) => uid === EXPLICIT_BIG);
}

/** This application's DICOM implementation class UID (a 2.25 UUID-derived UID). */
const IMPLEMENTATION_CLASS_UID = '2.25.58899685508088457079991152697723047326';
const IMPLEMENTATION_VERSION_NAME = 'XRAY_EDGE_1';

export interface DicomReceiverConfig {
  /** Our AE title: an association calling any other is refused. */
  aeTitle: string;
  port: number;
  /** Interface to listen on (the detector's network; default all). */
  host: string;
  /** Calling AE titles allowed; empty: any caller that names our AE title. */
  allowedCallers: readonly string[];
  /** Largest instance taken (it is held in memory until the queue has it). */
  maxInstanceBytes: number;
}

/** An instance received and checked: a DICOM Part 10 file in memory. */
export interface ReceivedInstance {
  /** Part 10: preamble, file meta group (ours), then the data set's bytes exactly as sent. */
  bytes: Uint8Array;
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  callingAeTitle: string;
}

export interface DicomReceiverOptions extends Partial<Omit<DicomReceiverConfig, 'aeTitle'>> {
  aeTitle: string;
  /** Resolves once the instance is durably queued (encrypted); rejecting answers 0xA700. */
  onInstance(instance: ReceivedInstance): Promise<void>;
  /** Every association and answer, for the shell's log (never the data set itself). */
  onEvent?(event: DicomReceiverEvent): void;
}

export type DicomReceiverEvent =
  | { type: 'association-rejected'; callingAeTitle: string; calledAeTitle: string; reason: string }
  | { type: 'association-accepted'; callingAeTitle: string }
  | { type: 'stored'; sopInstanceUid: string; callingAeTitle: string }
  | { type: 'refused'; sopInstanceUid: string; callingAeTitle: string; status: number; reason: string };

export interface DicomReceiver {
  /** The port listened on (useful with port 0). */
  readonly port: number;
  readonly aeTitle: string;
  close(): Promise<void>;
}

const DEFAULT_MAX_INSTANCE_BYTES = 512 * 1024 * 1024;
const DEFAULT_DICOM_PORT = 11112;

/** AE titles compare without their padding (PS3.5 §6.2: leading and trailing spaces are not significant). */
const normAe = (ae: string): string => ae.trim();
const AE_TITLE = /^[\x20-\x5b\x5d-\x7e]{1,16}$/; // 16 characters of the default repertoire, no backslash

function isAeTitle(value: string): boolean {
  return AE_TITLE.test(value) && value.trim() !== '';
}

/**
 * The receiver's settings from the shell's environment (fleet management): XRAY_DICOM_PORT turns
 * it on; XRAY_DICOM_AE_TITLE (default XRAY_EDGE), XRAY_DICOM_HOST (default 0.0.0.0),
 * XRAY_DICOM_ALLOWED_CALLERS (comma-separated AE titles; default any), XRAY_DICOM_MAX_MB.
 */
export function dicomReceiverConfigFromEnv(
  env: Record<string, string | undefined>,
): { ok: true; config: DicomReceiverConfig | null } | { ok: false; message: string } {
  if (!env.XRAY_DICOM_PORT) return { ok: true, config: null };
  const port = Number(env.XRAY_DICOM_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    return { ok: false, message: `XRAY_DICOM_PORT must be a port number (1–65535), not "${env.XRAY_DICOM_PORT}".` };
  const aeTitle = env.XRAY_DICOM_AE_TITLE ?? 'XRAY_EDGE';
  if (!isAeTitle(aeTitle))
    return {
      ok: false,
      message: `XRAY_DICOM_AE_TITLE "${aeTitle}" is not an AE title (1–16 characters, no backslash).`,
    };
  const allowedCallers = (env.XRAY_DICOM_ALLOWED_CALLERS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = allowedCallers.find((ae) => !isAeTitle(ae));
  if (bad !== undefined) return { ok: false, message: `XRAY_DICOM_ALLOWED_CALLERS: "${bad}" is not an AE title.` };
  const maxMb = env.XRAY_DICOM_MAX_MB === undefined ? undefined : Number(env.XRAY_DICOM_MAX_MB);
  if (maxMb !== undefined && !(Number.isInteger(maxMb) && maxMb > 0))
    return {
      ok: false,
      message: `XRAY_DICOM_MAX_MB must be a whole number of megabytes, not "${env.XRAY_DICOM_MAX_MB}".`,
    };
  return {
    ok: true,
    config: {
      aeTitle: aeTitle.trim(),
      port,
      host: env.XRAY_DICOM_HOST ?? '0.0.0.0',
      allowedCallers,
      maxInstanceBytes: maxMb === undefined ? DEFAULT_MAX_INSTANCE_BYTES : maxMb * 1024 * 1024,
    },
  };
}

/** Collects a C-STORE data set in memory, up to a cap (past it, the rest is counted and dropped). */
class InstanceSink extends Writable {
  readonly chunks: Buffer[] = [];
  size = 0;
  constructor(private readonly cap: number) {
    super();
  }
  get overflowed(): boolean {
    return this.size > this.cap;
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.size += chunk.length;
    if (this.overflowed) this.chunks.length = 0;
    else this.chunks.push(chunk);
    callback();
  }
}

// --- Part 10 wrapping -------------------------------------------------------------------------

function element(group: number, elementNo: number, vr: string, value: Uint8Array): Buffer {
  const long = vr === 'OB';
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(group, 0);
  head.writeUInt16LE(elementNo, 2);
  head.write(vr, 4, 'latin1');
  if (long) head.writeUInt32LE(value.length, 8);
  else head.writeUInt16LE(value.length, 6);
  return Buffer.concat([head, value]);
}
const padded = (text: string, pad: string): Buffer => Buffer.from(text.length % 2 ? text + pad : text, 'latin1');
const uid = (v: string): Buffer => padded(v, '\0');
const str = (v: string): Buffer => padded(v, ' ');

/** The file meta group (PS3.10 §7.1) in explicit VR little endian, for a data set received over the network. */
function fileMetaGroup(meta: {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  sourceAeTitle: string;
}): Buffer {
  const body = Buffer.concat([
    element(0x0002, 0x0001, 'OB', Uint8Array.of(0, 1)),
    element(0x0002, 0x0002, 'UI', uid(meta.sopClassUid)),
    element(0x0002, 0x0003, 'UI', uid(meta.sopInstanceUid)),
    element(0x0002, 0x0010, 'UI', uid(meta.transferSyntaxUid)),
    element(0x0002, 0x0012, 'UI', uid(IMPLEMENTATION_CLASS_UID)),
    element(0x0002, 0x0013, 'SH', str(IMPLEMENTATION_VERSION_NAME)),
    element(0x0002, 0x0016, 'AE', str(meta.sourceAeTitle)),
  ]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(body.length);
  return Buffer.concat([element(0x0002, 0x0000, 'UL', length), body]);
}

/** 128 zero bytes, "DICM", our meta group, then the data set as received. */
function toPart10(dataSet: readonly Uint8Array[], meta: Parameters<typeof fileMetaGroup>[0]): Uint8Array<ArrayBuffer> {
  const parts = [Buffer.alloc(128), Buffer.from('DICM', 'latin1'), fileMetaGroup(meta), ...dataSet];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// --- the SCP ------------------------------------------------------------------------------------

type Answer = { status: number; reason?: string };

/** Starts listening; resolves once it does. */
export async function startDicomReceiver(opts: DicomReceiverOptions): Promise<DicomReceiver> {
  if (!isAeTitle(opts.aeTitle)) throw new Error(`"${opts.aeTitle}" is not an AE title`);
  const aeTitle = normAe(opts.aeTitle);
  const allowed = new Set((opts.allowedCallers ?? []).map(normAe));
  const maxInstanceBytes = opts.maxInstanceBytes ?? DEFAULT_MAX_INSTANCE_BYTES;
  const emit = (event: DicomReceiverEvent): void => opts.onEvent?.(event);
  // dcmjs-dimse logs every PDU at info: the shell keeps warnings and errors.
  if (log.getLevel() < log.levels.WARN) log.setLevel('warn');

  /** The checks and hand-off of one instance, as the answer the detector gets. */
  async function store(request: CStoreRequest, sink: InstanceSink, ts: string, caller: string): Promise<Answer> {
    const sopClassUid = request.getAffectedSopClassUid();
    const sopInstanceUid = request.getAffectedSopInstanceUid();
    if (sink.overflowed)
      return {
        status: CSTORE_STATUS.outOfResources,
        reason: `instance of ${sink.size} bytes is over this receiver's limit (${maxInstanceBytes})`,
      };
    const bytes = toPart10(sink.chunks, { sopClassUid, sopInstanceUid, transferSyntaxUid: ts, sourceAeTitle: caller });
    sink.chunks.length = 0;
    const checked = await checkFile(new Blob([bytes]), maxInstanceBytes + bytes.length, 'The data set');
    if (!checked.ok) return { status: CSTORE_STATUS.cannotUnderstand, reason: checked.problem.message };
    if (checked.contentType !== 'application/dicom' || checked.dicomError !== undefined)
      return { status: CSTORE_STATUS.cannotUnderstand, reason: checked.dicomError ?? 'not a DICOM data set' };
    const tagged = checked.dicom?.sopInstanceUid;
    if (tagged !== undefined && tagged !== sopInstanceUid)
      return {
        status: CSTORE_STATUS.dataSetMismatch,
        reason: `the data set's SOP Instance UID ${tagged} is not the command's ${sopInstanceUid}`,
      };
    try {
      await opts.onInstance({ bytes, sopClassUid, sopInstanceUid, transferSyntaxUid: ts, callingAeTitle: caller });
    } catch (err) {
      return {
        status: CSTORE_STATUS.outOfResources,
        reason: `not queued: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
    return { status: CSTORE_STATUS.success };
  }

  class ReceiverScp extends Scp {
    #association: Association | undefined;
    /** The data set of the C-STORE being received, and its context's transfer syntax (dcmjs-dimse hands both over synchronously). */
    #sink: { sink: InstanceSink; ts: string | undefined } | undefined;

    override associationRequested(association: Association): void {
      this.#association = association;
      const calling = normAe(association.getCallingAeTitle());
      const called = normAe(association.getCalledAeTitle());
      const reject = (reason: number, why: string): void => {
        emit({ type: 'association-rejected', callingAeTitle: calling, calledAeTitle: called, reason: why });
        this.sendAssociationReject(constants.RejectResult.Permanent, constants.RejectSource.ServiceUser, reason);
      };
      if (called !== aeTitle) return reject(constants.RejectReason.CalledAeNotRecognized, 'called AE title not ours');
      if (allowed.size > 0 && !allowed.has(calling))
        return reject(constants.RejectReason.CallingAeNotRecognized, 'calling AE title not allowed');
      for (const { context } of association.getPresentationContexts()) {
        const abstract = context.getAbstractSyntaxUid();
        if (abstract !== VERIFICATION_SOP_CLASS && !ACCEPTED_SOP_CLASSES.has(abstract)) {
          context.setResult(constants.PresentationContextResult.RejectAbstractSyntaxNotSupported);
          continue;
        }
        const ts =
          abstract === VERIFICATION_SOP_CLASS
            ? [IMPLICIT_LITTLE, EXPLICIT_LITTLE].find((t) => context.hasTransferSyntaxUid(t))
            : chooseTransferSyntax(context.getTransferSyntaxUids());
        if (ts) context.setResult(constants.PresentationContextResult.Accept, ts);
        else context.setResult(constants.PresentationContextResult.RejectTransferSyntaxesNotSupported);
      }
      emit({ type: 'association-accepted', callingAeTitle: calling });
      this.sendAssociationAccept();
    }

    override associationReleaseRequested(): void {
      this.sendAssociationReleaseResponse();
    }

    override cEchoRequest(
      request: dimseRequests.CEchoRequest,
      callback: (r: InstanceType<typeof CEchoResponse>) => void,
    ): void {
      const response = CEchoResponse.fromRequest(request);
      response.setStatus(CSTORE_STATUS.success);
      callback(response);
    }

    override createStoreWritableStream(context: PresentationContext): Writable {
      const sink = new InstanceSink(maxInstanceBytes);
      this.#sink = { sink, ts: context.getAcceptedTransferSyntaxUid() };
      return sink;
    }

    override createDatasetFromStoreWritableStream(
      _writable: Writable,
      _context: PresentationContext,
      callback: (dataset: InstanceType<typeof Dataset>) => void,
    ): void {
      // Not parsed here: the bytes are kept as they came and checked by the service's own walker.
      callback(new Dataset({}));
    }

    override cStoreRequest(
      request: CStoreRequest,
      callback: (response: InstanceType<typeof CStoreResponse>) => void,
    ): void {
      const received = this.#sink;
      this.#sink = undefined;
      const caller = normAe(this.#association?.getCallingAeTitle() ?? '');
      const answered = (answer: Answer): void => {
        const sopInstanceUid = request.getAffectedSopInstanceUid();
        if (answer.status === CSTORE_STATUS.success) emit({ type: 'stored', sopInstanceUid, callingAeTitle: caller });
        else
          emit({
            type: 'refused',
            sopInstanceUid,
            callingAeTitle: caller,
            status: answer.status,
            reason: answer.reason ?? '',
          });
        const response = CStoreResponse.fromRequest(request);
        response.setStatus(answer.status);
        if (answer.reason) response.setErrorComment(answer.reason.slice(0, 64));
        callback(response);
      };
      if (!received?.ts) {
        answered({ status: CSTORE_STATUS.cannotUnderstand, reason: 'no data set in an accepted context' });
        return;
      }
      store(request, received.sink, received.ts, caller).then(answered, (err: unknown) =>
        answered({ status: CSTORE_STATUS.outOfResources, reason: String(err) }),
      );
    }
  }

  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    new ReceiverScp(socket, { associationTimeout: 60_000, pduTimeout: 120_000 });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? DEFAULT_DICOM_PORT, opts.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? DEFAULT_DICOM_PORT);
  return {
    port,
    aeTitle,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
