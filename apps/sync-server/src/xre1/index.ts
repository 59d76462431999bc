/**
 * XRE1 on the server (node:crypto): the one place the server decrypts the format, for the
 * arrival and read-back verification of uploads (Xre1Verifier) and for downloads
 * (openStoredXre1), both on one segment assembler. The format itself lives in @xray/shared.
 */
export { type DekMaterial, encryptNode, rawDekBytes } from './xre1.core.ts';
export { type OpenStoredOptions, openStoredXre1, StoredObjectMismatchError } from './xre1.opener.ts';
export { Xre1Verifier } from './xre1.verifier.ts';
