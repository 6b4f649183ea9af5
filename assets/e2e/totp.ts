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

export function totp(secret: string, at = Date.now(), step = 30): string {
  const counter = Math.floor(at / 1000 / step);
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const h = createHmac('sha1', base32(secret)).update(msg).digest();
  const o = h[h.length - 1] & 0xf;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1_000_000).padStart(6, '0');
}

/**
 * A code that has not been used yet: the server refuses a code twice in its
 * window, so after `used` wait for the next step.
 */
export async function freshTotp(secret: string, used?: string): Promise<string> {
  for (;;) {
    const c = totp(secret);
    // Avoid the last second of a step (the server might see the next one).
    const left = 30 - (Math.floor(Date.now() / 1000) % 30);
    if (c !== used && left > 2) return c;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
