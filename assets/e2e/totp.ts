/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s), to sign in an MFA account in the browser tests. */
import { createHmac } from 'node:crypto';

function base32(secret: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = secret.replace(/[\s=-]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of clean) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error(`totp: bad base32 character ${c}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The code of one 30-second step (RFC 6238 counter). */
export function totpAt(secret: string, counter: number): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const h = createHmac('sha1', base32(secret)).update(msg).digest();
  const o = h[h.length - 1] & 0xf;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

const STEP_SECONDS = 30;
const stepNow = () => Math.floor(Date.now() / 1000 / STEP_SECONDS);

/** The step of each secret's last code handed out. */
const lastStep = new Map<string, number>();

/**
 * The next code of an authenticator for `secret`, as the server accepts it
 * (app/auth/mfa.go): the codes of the current step and one step either side,
 * each step once, and never a step before the last one accepted. The first
 * code is the current step's; a second one in the same 30 s is the next
 * step's, so nothing waits for the clock. The server and the tests share the
 * machine's clock.
 */
export function totp(secret: string): string {
  const now = stepNow();
  const step = Math.max(now, (lastStep.get(secret) ?? now - 1) + 1);
  if (step > now + 1) {
    throw new Error('e2e totp: a third code within one 30-second step would be refused by the server; use a recovery code');
  }
  lastStep.set(secret, step);
  return totpAt(secret, step);
}
