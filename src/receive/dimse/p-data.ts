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
