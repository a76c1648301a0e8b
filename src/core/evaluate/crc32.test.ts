import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32, tableCrc32, usesNativeCrc32 } from './crc32.js';

describe('crc32', () => {
  it("uses Node's zlib.crc32 on this runtime", () => {
    expect(typeof (zlib as { crc32?: unknown }).crc32).toBe('function');
    expect(usesNativeCrc32).toBe(true);
  });

  it('matches known IEEE check values', () => {
    // "123456789" is the standard CRC-32 check string; the others come from Ruby's Zlib.crc32.
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(tableCrc32('123456789')).toBe(0xcbf43926);
    expect(crc32('')).toBe(0);
    expect(tableCrc32('')).toBe(0);
    expect(crc32('checkout42')).toBe(419504462);
    expect(tableCrc32('checkoutü-ñ')).toBe(3849044949);
  });

  it('the table fallback agrees with zlib for any string, including astral characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (s) => {
        expect(tableCrc32(s)).toBe(crc32(s));
      }),
      { numRuns: 200 },
    );
  });
});
