/**
 * Text decoding per Specific Character Set (PS3.3 C.12.1.1.2, PS3.5 6.1): single-byte and multi-byte
 * sets without code extensions (GB18030, GBK, UTF-8, Latin-n, ...) and ISO 2022 code extensions
 * (ISO 2022 IR 58 / 87 / 149 / 159 / 13 / 100 ... with escape sequences), which dcmjs does not decode.
 */
import iconv from 'iconv-lite';

/** Defined terms without code extensions -> iconv-lite encoding. */
const SINGLE_SETS: Record<string, string> = {
  '': 'latin1',
  ISO_IR_6: 'latin1',
  ISO_IR_100: 'latin1',
  ISO_IR_101: 'iso-8859-2',
  ISO_IR_109: 'iso-8859-3',
  ISO_IR_110: 'iso-8859-4',
  ISO_IR_144: 'iso-8859-5',
  ISO_IR_127: 'iso-8859-6',
  ISO_IR_126: 'iso-8859-7',
  ISO_IR_138: 'iso-8859-8',
  ISO_IR_148: 'iso-8859-9',
  ISO_IR_203: 'iso-8859-15',
  ISO_IR_13: 'shift_jis',
  ISO_IR_166: 'tis620',
  ISO_IR_192: 'utf8',
  GB18030: 'gb18030',
  GBK: 'gbk',
};

/** ISO 2022 defined terms -> the encoding selected at the start of each value. */
const ISO2022_INITIAL: Record<string, string> = {
  ISO_2022_IR_6: 'ascii',
  ISO_2022_IR_100: 'latin1',
  ISO_2022_IR_101: 'iso-8859-2',
  ISO_2022_IR_109: 'iso-8859-3',
  ISO_2022_IR_110: 'iso-8859-4',
  ISO_2022_IR_144: 'iso-8859-5',
  ISO_2022_IR_127: 'iso-8859-6',
  ISO_2022_IR_126: 'iso-8859-7',
  ISO_2022_IR_138: 'iso-8859-8',
  ISO_2022_IR_148: 'iso-8859-9',
  ISO_2022_IR_203: 'iso-8859-15',
  ISO_2022_IR_13: 'jisx0201',
  ISO_2022_IR_166: 'tis620',
  ISO_2022_IR_87: 'ascii',
  ISO_2022_IR_159: 'ascii',
  ISO_2022_IR_149: 'ascii',
  ISO_2022_IR_58: 'ascii',
};

/** Escape sequences (bytes after ESC) -> the encoding they select. */
const ESCAPES: Array<[number[], string]> = [
  [[0x28, 0x42], 'ascii'], // ESC ( B  ISO-IR 6 in G0
  [[0x28, 0x4a], 'ascii'], // ESC ( J  JIS X 0201 Romaji in G0 (ASCII but yen/overline)
  [[0x29, 0x49], 'jisx0201'], // ESC ) I  JIS X 0201 Katakana in G1
  [[0x24, 0x42], 'jisx0208'], // ESC $ B  JIS X 0208 in G0
  [[0x24, 0x28, 0x44], 'jisx0212'], // ESC $ ( D  JIS X 0212 in G0
  [[0x24, 0x29, 0x43], 'euc-kr'], // ESC $ ) C  KS X 1001 in G1
  [[0x24, 0x29, 0x41], 'gb2312'], // ESC $ ) A  GB 2312 in G1
  [[0x2d, 0x41], 'latin1'], // ESC - A  ISO-IR 100
  [[0x2d, 0x42], 'iso-8859-2'],
  [[0x2d, 0x43], 'iso-8859-3'],
  [[0x2d, 0x44], 'iso-8859-4'],
  [[0x2d, 0x4c], 'iso-8859-5'],
  [[0x2d, 0x47], 'iso-8859-6'],
  [[0x2d, 0x46], 'iso-8859-7'],
  [[0x2d, 0x48], 'iso-8859-8'],
  [[0x2d, 0x4d], 'iso-8859-9'],
  [[0x2d, 0x54], 'tis620'],
];

const ESC = 0x1b;
/** Delimiters after which ISO 2022 state returns to the initial set (PS3.5 6.1.2.5.3). */
const RESET_BYTES = new Set([0x5c, 0x3d, 0x5e, 0x0d, 0x0a, 0x09, 0x0c]);

export interface CharsetDecoder {
  decode(bytes: Buffer): string;
}

/** Normalises a defined term: 'ISO 2022 IR 58' / 'ISO_IR 100' / 'GB18030' -> 'ISO_2022_IR_58' / ... */
function normalizeTerm(term: string): string {
  return term.trim().toUpperCase().replace(/[ _-]+/g, '_');
}

/** A decoder for the value of (0008,0005) Specific Character Set (the terms, in order). */
export function charsetDecoder(terms: readonly string[] | undefined): CharsetDecoder {
  const list = (terms ?? []).map(normalizeTerm);
  const first = list[0] ?? '';
  const usesExtensions = list.some((t) => t.startsWith('ISO_2022'));
  if (!usesExtensions) {
    const enc = SINGLE_SETS[first] ?? 'latin1';
    return { decode: (bytes) => iconv.decode(bytes, enc) };
  }
  const initial = ISO2022_INITIAL[first] ?? 'ascii';
  return { decode: (bytes) => decodeIso2022(bytes, initial) };
}

function decodeIso2022(bytes: Buffer, initial: string): string {
  let out = '';
  let enc = initial;
  let segStart = 0;
  const flush = (end: number) => {
    if (end > segStart) out += decodeSegment(bytes.subarray(segStart, end), enc);
  };
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b === ESC) {
      flush(i);
      const match = ESCAPES.find(([seq]) => seq.every((s, k) => bytes[i + 1 + k] === s));
      if (match) {
        enc = match[1];
        i += 1 + match[0].length;
      } else {
        i += 1; // unknown escape: drop the ESC byte
      }
      segStart = i;
      continue;
    }
    // In 7-bit double-byte sets (JIS X 0208/0212) delimiter bytes are part of characters.
    if (RESET_BYTES.has(b) && enc !== 'jisx0208' && enc !== 'jisx0212') {
      flush(i);
      out += String.fromCharCode(b);
      enc = initial;
      i += 1;
      segStart = i;
      continue;
    }
    i += 1;
  }
  flush(bytes.length);
  return out;
}

function decodeSegment(seg: Buffer, enc: string): string {
  switch (enc) {
    case 'jisx0208':
      return iconv.decode(Buffer.from(seg.map((x) => x | 0x80)), 'euc-jp');
    case 'jisx0212': {
      const out: number[] = [];
      for (let k = 0; k + 1 < seg.length; k += 2) out.push(0x8f, seg[k]! | 0x80, seg[k + 1]! | 0x80);
      return iconv.decode(Buffer.from(out), 'euc-jp');
    }
    case 'jisx0201':
      // G0 ASCII, G1 half-width katakana (0xA1-0xDF), as in Shift_JIS.
      return iconv.decode(seg, 'shift_jis');
    case 'gb2312':
    case 'euc-kr': {
      // Bytes below 0x80 stay ASCII (G0); high bytes are the double-byte set in G1.
      return iconv.decode(seg, enc === 'gb2312' ? 'gbk' : 'euc-kr');
    }
    case 'ascii':
      return seg.toString('latin1');
    default:
      return iconv.decode(seg, enc);
  }
}
