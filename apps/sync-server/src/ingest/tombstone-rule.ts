import type { Actor } from '../auth/actor.ts';
import type { Pool } from '../db/pool.ts';
import { xrayChangeRepository, xrayDeleted } from '../xrays/xray-changes.repository.ts';
import { replayRefused } from './repeat-rule.ts';

/**
 * A client-chosen id whose X-ray was deleted is never stored again, on either door: a late retry
 * (an ambulance back in coverage hours later) must not bring the X-ray back. Its capturer is told
 * so (410 `xray_deleted`: final, do not send again); anyone else gets the repeat rule's one 409,
 * which tells nothing about the id (and is recorded as a denial). Either way nothing is read.
 */
export function refuseDeletedId(actor: Actor, id: string, tombstone: { ownerSub: string }): never {
  if (tombstone.ownerSub === actor.sub) throw xrayDeleted(id);
  throw replayRefused({ denial: 'not_owner' });
}

/**
 * The same refusal for a creation that met the tombstone of its id only as it was being stored:
 * a delete that committed while the bytes arrived, or a tus upload begun (by anyone) before the
 * id was stored and deleted. Only the capturer learns that it was deleted.
 */
export async function refuseAsDeleted(db: Pool, actor: Actor, id: string): Promise<never> {
  const { tombstone } = await xrayChangeRepository.findForUpload(db, id);
  // (Always there once a creation met it: the change log is insert-only.)
  return refuseDeletedId(actor, id, tombstone ?? { ownerSub: '' });
}
