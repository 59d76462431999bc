import { z } from 'zod';

/** A message for a present-but-wrong value; a missing one says "is required". */
export const says = (message: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : message),
});

/** One page of a keyset-paginated list. */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    /** Opaque; pass as `cursor` to get the next page. Null on the last page. */
    nextCursor: z.string().nullable(),
  });
