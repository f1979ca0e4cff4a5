/**
 * The second factor: TOTP (RFC 6238) through `otplib`, QR codes through `qrcode`, and
 * single-use recovery codes. Codes are six digits, SHA-1, 30-s steps (what every authenticator
 * app reads from an `otpauth://` URL); one step either side of now is accepted (clock drift,
 * typing time), and only a step later than the last accepted one (no replay). Recovery codes
 * are 60 random bits, stored as light scrypt hashes like machine secrets (see secret-hash.ts).
 */
import { randomInt } from 'node:crypto';
import { generateSecret, generateURI, verify } from 'otplib';
import QRCode from 'qrcode';
import { hashSecret, MACHINE_SECRET_PARAMS, verifySecret } from './secret-hash.ts';

/** The name authenticator apps show next to the username. */
export const TOTP_ISSUER = 'CCTV';
export const RECOVERY_CODE_COUNT = 10;
const TOLERANCE_S = 30;
// No 0/o, 1/l: a code is read off paper and typed.
const RECOVERY_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

/** A new TOTP secret: 20 random bytes (RFC 4226's recommended length), base32. */
export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

export function otpauthUrl(secret: string, username: string): string {
  return generateURI({ issuer: TOTP_ISSUER, label: username, secret });
}

/** The QR code of an `otpauth://` URL as a PNG data URL. */
export function qrDataUrl(url: string): Promise<string> {
  return QRCode.toDataURL(url, { errorCorrectionLevel: 'M', margin: 2, width: 240 });
}

/**
 * The time step `code` belongs to when it is valid at `nowMs` (± one step) and later than
 * `afterStep`; null otherwise.
 */
export async function acceptedStep(
  secret: string,
  code: string,
  afterStep: number | null,
  nowMs: number,
): Promise<number | null> {
  try {
    const r = await verify({
      secret,
      token: code,
      epoch: Math.floor(nowMs / 1000),
      epochTolerance: TOLERANCE_S,
      ...(afterStep !== null ? { afterTimeStep: afterStep } : {}),
    });
    return r.valid && 'timeStep' in r ? r.timeStep : null;
  } catch {
    // A malformed token or secret is a wrong code, not a server error.
    return null;
  }
}

/** A new recovery code, `xxxx-xxxx-xxxx` (12 characters of 32: 60 bits). */
export function newRecoveryCode(): string {
  const chars = Array.from({ length: 12 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]);
  return [chars.slice(0, 4), chars.slice(4, 8), chars.slice(8)].map((g) => g.join('')).join('-');
}

/** A typed recovery code as stored: lower case, without spaces or dashes. */
export function normaliseRecoveryCode(typed: string): string {
  return typed.toLowerCase().replace(/[\s-]/g, '');
}

export function hashRecoveryCode(code: string): Promise<string> {
  return hashSecret(normaliseRecoveryCode(code), MACHINE_SECRET_PARAMS);
}

/** The id of the stored code `typed` matches, or null; every hash is checked (no early exit). */
export async function matchRecoveryCode(
  typed: string,
  stored: readonly { id: string; codeHash: string }[],
): Promise<string | null> {
  const code = normaliseRecoveryCode(typed);
  let found: string | null = null;
  for (const s of stored) if ((await verifySecret(code, s.codeHash)) && found === null) found = s.id;
  return found;
}
