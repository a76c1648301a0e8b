import * as zlib from 'node:zlib';

type Crc32 = (data: string) => number;

// zlib.crc32 arrived in Node 20.15 / 22.2; runtimes without it (older Node, some non-Node
// runtimes) get the same IEEE 802.3 checksum from a lookup table.
const nativeCrc32 = (zlib as { crc32?: (data: string | Uint8Array, value?: number) => number }).crc32;

let table: Uint32Array | undefined;

function crcTable(): Uint32Array {
  if (table) return table;
  table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

const encoder = new TextEncoder();

/** CRC-32 (IEEE) of the UTF-8 bytes of `data`, computed without zlib. */
export function tableCrc32(data: string): number {
  const t = crcTable();
  const bytes = encoder.encode(data);
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (t[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** CRC-32 (IEEE) of the UTF-8 bytes of `data`: the checksum Ruby's `Zlib.crc32` computes. */
export const crc32: Crc32 = nativeCrc32 ? (data) => nativeCrc32(data) : tableCrc32;

/** True when the checksum comes from Node's `zlib.crc32` rather than the table fallback. */
export const usesNativeCrc32 = nativeCrc32 !== undefined;
