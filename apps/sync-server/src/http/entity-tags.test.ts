import { describe, expect, it } from 'vitest';
import { ifMatchHolds, noneMatch, resourceEtag } from './entity-tags.ts';

describe('entity tags', () => {
  const etag = resourceEtag({ changeSeq: 42 });

  it('the resource tag is strong and names the change sequence', () => {
    expect(etag).toBe('"v42"');
  });

  it('If-None-Match compares weakly, in a list, and * matches', () => {
    expect(noneMatch(undefined, etag)).toBe(false);
    expect(noneMatch('"v42"', etag)).toBe(true);
    expect(noneMatch('W/"v42"', etag)).toBe(true);
    expect(noneMatch('"v41", "v42"', etag)).toBe(true);
    expect(noneMatch('*', etag)).toBe(true);
    expect(noneMatch('"v41"', etag)).toBe(false);
    expect(noneMatch('v42', etag)).toBe(false);
  });

  it('If-Match compares strongly: a weak tag never matches; absent holds; * holds', () => {
    expect(ifMatchHolds(undefined, etag)).toBe(true);
    expect(ifMatchHolds('"v42"', etag)).toBe(true);
    expect(ifMatchHolds('"v1" ,"v42"', etag)).toBe(true);
    expect(ifMatchHolds('*', etag)).toBe(true);
    expect(ifMatchHolds('W/"v42"', etag)).toBe(false);
    expect(ifMatchHolds('"v41"', etag)).toBe(false);
    expect(ifMatchHolds('', etag)).toBe(false);
    expect(ifMatchHolds('v42', etag)).toBe(false);
  });
});
