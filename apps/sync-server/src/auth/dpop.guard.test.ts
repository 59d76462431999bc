import type { Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.ts';
import type { Pool } from '../db/pool.ts';
import { htuOf } from './dpop.proof.ts';
import { dpopGuard, requestUrlOf } from './dpop.guard.ts';

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

describe('plain bearer tokens at the DPoP guard (no proof, so no database)', () => {
  /** The error code the guard passes on for a bearer token of these roles, or 'passed'. */
  async function bearerOutcome(env: Record<string, string>, roles: string[], jkt?: string): Promise<string> {
    const guard = dpopGuard({ config: loadConfig(env), pool: {} as Pool });
    const req = {
      headers: {},
      accessToken: { scheme: 'Bearer', token: 't' },
      actor: { sub: 's', name: null, roles, ...(jkt ? { jkt } : {}) },
    } as unknown as Request;
    const res = { set: () => res } as unknown as Response;
    const err = await new Promise<unknown>((resolve) => void guard(req, res, resolve));
    return err === undefined ? 'passed' : String((err as { code?: string }).code);
  }

  it('by default: refused for paramedics (edge devices), accepted for doctors and admins', async () => {
    expect(await bearerOutcome({}, ['paramedic'])).toBe('dpop_required');
    expect(await bearerOutcome({}, ['doctor'])).toBe('passed');
    expect(await bearerOutcome({}, ['admin'])).toBe('passed');
  });

  it('refused for everyone with DPOP_BEARER_ALLOWED off, and for a token bound to a key', async () => {
    expect(await bearerOutcome({ DPOP_BEARER_ALLOWED: 'false' }, ['doctor'])).toBe('dpop_required');
    expect(await bearerOutcome({}, ['doctor'], 'some-thumbprint')).toBe('dpop_required');
  });
});
