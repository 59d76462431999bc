import { z } from 'zod';
import { changeSeq, changeSeqParam } from './input-rules.ts';
import { XraySchema } from './xray.ts';

/**
 * The change feed (GET /changes): every change of an X-ray, numbered by the server in the order
 * the changes committed. A consumer keeps the last number it has processed and asks for what came
 * after it; a change committed later never gets a smaller number, so nothing is missed.
 */
export const CHANGE_KINDS = [
  /** Stored (POST /xrays or a finished tus upload), or rebuilt by `xray-admin recover`. */
  'created',
  /** Corrected (PATCH /xrays/{id}). */
  'updated',
  /** Its pending link to the Patient Service settled in the background (verified or invalid). */
  'link_settled',
  /** Deleted: a tombstone (no patient data); the id can never be stored again (410 `xray_deleted`). */
  'deleted',
] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export const ChangeSchema = z.object({
  seq: changeSeq(),
  kind: z.enum(CHANGE_KINDS),
  xrayId: z.uuid(),
  /** When the change committed (database clock). */
  at: z.iso.datetime({ offset: true }),
  /**
   * The X-ray as it is now (not as it was at this change: a later change follows with its own
   * number); null for `deleted`, and for an earlier change of an X-ray deleted since.
   */
  xray: XraySchema.nullable(),
});
export type Change = z.infer<typeof ChangeSchema>;

export const ChangeFeedSchema = z.object({
  items: z.array(ChangeSchema),
  /** Pass as `after` to continue: the last item's `seq`, or the `after` asked for when there was none. */
  next: z.number().int().nonnegative(),
  /** True when the page is full: ask again at once. False: caught up; poll later with `after=next`. */
  more: z.boolean(),
});
export type ChangeFeed = z.infer<typeof ChangeFeedSchema>;

export const ChangeFeedQuerySchema = z.strictObject({
  after: changeSeqParam().default(0),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type ChangeFeedQuery = z.infer<typeof ChangeFeedQuerySchema>;
