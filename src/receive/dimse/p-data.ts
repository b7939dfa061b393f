/**
 * P-DATA-TF PDUs (PS3.8 9.3.5): the presentation data value items inside one, and P-DATA-TF / A-ABORT
 * PDUs we send. PDV values are returned as views of the PDU (no copies).
 */

export interface Pdv {
  presentationContextId: number;
  /** Message control header bit 0: command (true) or data set (false) fragment. */
  isCommand: boolean;
  /** Message control header bit 1: last fragment of the command or data set. */
  isLast: boolean;
  value: Buffer;
}

export class PDataError extends Error {}

/** The PDV items of a whole P-DATA-TF PDU (header included). Throws PDataError when malformed. */
export function parsePData(pdu: Buffer): Pdv[] {
  if (pdu.length < 6 || pdu[0] !== 0x04) throw new PDataError('not a P-DATA-TF PDU');
  const end = 6 + pdu.readUInt32BE(2);
  if (end !== pdu.length) throw new PDataError('P-DATA-TF length does not match its bytes');
  const out: Pdv[] = [];
  let pos = 6;
  while (pos < end) {
    if (pos + 6 > end) throw new PDataError('PDV item header truncated');
    const itemLength = pdu.readUInt32BE(pos);
    if (itemLength < 2 || pos + 4 + itemLength > end) throw new PDataError('PDV item length out of range');
    const mch = pdu[pos + 5]!;
    out.push({
      presentationContextId: pdu[pos + 4]!,
      isCommand: (mch & 0x01) !== 0,
      isLast: (mch & 0x02) !== 0,
      value: pdu.subarray(pos + 6, pos + 4 + itemLength),
    });
    pos += 4 + itemLength;
  }
  if (out.length === 0) throw new PDataError('P-DATA-TF without PDV items');
  return out;
}

/**
 * A whole PDU as the framer hands it on: one Buffer, or (a P-DATA-TF PDU that arrived over several socket
 * chunks) the list of views of those chunks, in order, so that a data set is not joined into a copy first.
 */
export type PduBytes = Buffer | readonly Buffer[];

/** The PDU type byte. */
export function pduType(pdu: PduBytes): number | undefined {
  if (Buffer.isBuffer(pdu)) return pdu[0];
  for (const p of pdu) if (p.length > 0) return p[0];
  return undefined;
}

/** The PDU as one Buffer (joined once when it is a chunk list). */
export function joinPdu(pdu: PduBytes): Buffer {
  if (Buffer.isBuffer(pdu)) return pdu;
  return pdu.length === 1 ? pdu[0]! : Buffer.concat(pdu as Buffer[]);
}

/** A PDV item whose value is a list of views (of one Buffer, or of the socket chunks it arrived in). */
export interface PdvParts {
  presentationContextId: number;
  isCommand: boolean;
  isLast: boolean;
  /** Value length in bytes (the sum of the parts' lengths). */
  length: number;
  parts: Buffer[];
}

/** Sequential reader over a list of chunks (bounds are checked by the caller against the total). */
class ChunkCursor {
  private i = 0;
  private off = 0;
  constructor(private readonly chunks: readonly Buffer[]) {}

  byte(): number {
    let c = this.chunks[this.i]!;
    while (this.off >= c.length) {
      c = this.chunks[++this.i]!;
      this.off = 0;
    }
    return c[this.off++]!;
  }

  u32(): number {
    return this.byte() * 0x1000000 + ((this.byte() << 16) | (this.byte() << 8) | this.byte());
  }

  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    while (n > 0) {
      const c = this.chunks[this.i]!;
      const avail = c.length - this.off;
      if (avail === 0) {
        this.i++;
        this.off = 0;
        continue;
      }
      const k = Math.min(avail, n);
      out.push(c.subarray(this.off, this.off + k));
      this.off += k;
      n -= k;
    }
    return out;
  }
}

/** parsePData for a PDU that may be a chunk list: the same checks and errors, values as lists of views. */
export function parsePDataParts(pdu: PduBytes): PdvParts[] {
  if (Buffer.isBuffer(pdu)) {
    return parsePData(pdu).map((p) => ({ presentationContextId: p.presentationContextId, isCommand: p.isCommand, isLast: p.isLast, length: p.value.length, parts: [p.value] }));
  }
  let total = 0;
  for (const c of pdu) total += c.length;
  const cur = new ChunkCursor(pdu);
  if (total < 6 || cur.byte() !== 0x04) throw new PDataError('not a P-DATA-TF PDU');
  cur.byte();
  const end = 6 + cur.u32();
  if (end !== total) throw new PDataError('P-DATA-TF length does not match its bytes');
  const out: PdvParts[] = [];
  let pos = 6;
  while (pos < end) {
    if (pos + 6 > end) throw new PDataError('PDV item header truncated');
    const itemLength = cur.u32();
    if (itemLength < 2 || pos + 4 + itemLength > end) throw new PDataError('PDV item length out of range');
    const presentationContextId = cur.byte();
    const mch = cur.byte();
    out.push({ presentationContextId, isCommand: (mch & 0x01) !== 0, isLast: (mch & 0x02) !== 0, length: itemLength - 2, parts: cur.take(itemLength - 2) });
    pos += 4 + itemLength;
  }
  if (out.length === 0) throw new PDataError('P-DATA-TF without PDV items');
  return out;
}

/**
 * P-DATA-TF PDUs carrying one message part (a command or a data set) on a presentation context, cut so
 * that no PDU body exceeds `peerMaxPduLength` (the peer's Maximum Length; 0 means unlimited).
 */
export function encodePData(presentationContextId: number, isCommand: boolean, value: Buffer, peerMaxPduLength: number): Buffer[] {
  const maxValue = peerMaxPduLength > 0 ? peerMaxPduLength - 6 : value.length;
  if (maxValue < 1) throw new PDataError(`peer maximum PDU length ${peerMaxPduLength} cannot carry any data`);
  const out: Buffer[] = [];
  let pos = 0;
  do {
    const n = Math.min(maxValue, value.length - pos);
    const last = pos + n >= value.length;
    const pdu = Buffer.alloc(12 + n);
    pdu[0] = 0x04;
    pdu.writeUInt32BE(6 + n, 2);
    pdu.writeUInt32BE(2 + n, 6);
    pdu[10] = presentationContextId;
    pdu[11] = (isCommand ? 0x01 : 0x00) | (last ? 0x02 : 0x00);
    value.copy(pdu, 12, pos, pos + n);
    out.push(pdu);
    pos += n;
  } while (pos < value.length);
  return out;
}

/** A-ABORT (PS3.8 9.3.8): source 0 = service user, 2 = service provider; reason per table 9-26. */
export function encodeAbort(source: 0 | 2, reason: number): Buffer {
  return Buffer.from([0x07, 0, 0, 0, 0, 4, 0, 0, source, reason]);
}

/** A-ABORT reasons when the source is the service provider (PS3.8 table 9-26). */
export const AbortReason = {
  NotSpecified: 0,
  UnexpectedPdu: 2,
  UnexpectedPduParameter: 5,
  InvalidPduParameterValue: 6,
} as const;
