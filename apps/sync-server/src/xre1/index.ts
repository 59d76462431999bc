/**
 * XRE1 on the server (node:crypto): the one place the server encrypts the format (POST /xrays,
 * Xre1Sealer) and decrypts it, for the arrival and read-back verification of uploads
 * (Xre1Verifier) and for downloads (openStoredXre1), both on one segment assembler. The format
 * itself lives in @xray/shared.
 */
export { type DekMaterial, rawDekBytes } from './xre1.core.ts';
export { encryptNode, Xre1Sealer } from './xre1.sealer.ts';
export { type OpenStoredOptions, openStoredXre1, StoredObjectMismatchError } from './xre1.opener.ts';
export { Xre1Verifier } from './xre1.verifier.ts';
