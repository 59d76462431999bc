import { describe, expect, it } from 'vitest';
import { htuOf } from './dpop.proof.ts';
import { requestUrlOf } from './dpop.guard.ts';

const req = (originalUrl: string) => ({ originalUrl, protocol: 'http', host: '10.0.0.5:3000' });

describe('the URL a DPoP proof must name (htu)', () => {
  it('is under PUBLIC_URL, path prefix included, as the tus Location URLs the edge PATCHes are', () => {
    // A proxy serves the API at https://xray.example/api/ and strips the prefix.
    const url = requestUrlOf(req('/uploads/abc?x=1'), 'https://xray.example/api/');
    expect(htuOf(url)).toBe('https://xray.example/api/uploads/abc');
    expect(htuOf(requestUrlOf(req('/xrays'), 'https://xray.example/api'))).toBe('https://xray.example/api/xrays');
  });

  it("is PUBLIC_URL's origin for a PUBLIC_URL without a path, else what Express sees", () => {
    expect(htuOf(requestUrlOf(req('/xrays'), 'https://xray.example'))).toBe('https://xray.example/xrays');
    expect(htuOf(requestUrlOf(req('/xrays'), undefined))).toBe('http://10.0.0.5:3000/xrays');
  });

  it('keeps a request path that looks protocol-relative on our own origin', () => {
    expect(requestUrlOf(req('//evil.example/xrays'), 'https://xray.example').host).toBe('xray.example');
    expect(requestUrlOf(req('//evil.example/xrays'), undefined).host).toBe('10.0.0.5:3000');
  });
});
