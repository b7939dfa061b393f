/**
 * Upper-layer PDU framing guard (PS3.8 9.3): reads each PDU header (type, 4-byte length) as the bytes
 * arrive, before dcmjs-dimse buffers them, and drops the connection on an unknown PDU type, a PDU longer
 * than allowed (a P-DATA header claiming 4 GiB is never buffered), or data before an association exists.
 */
import type { Socket } from 'node:net';
import { joinPdu, type PduBytes } from './p-data';

export const PduType = {
  AssociateRq: 0x01,
  AssociateAc: 0x02,
  AssociateRj: 0x03,
  PData: 0x04,
  ReleaseRq: 0x05,
  ReleaseRp: 0x06,
  Abort: 0x07,
} as const;

export interface PduLimits {
  /** Largest P-DATA-TF PDU body (our advertised max PDU length). */
  maxPDataLength: number;
  /** Largest body of any other PDU (associate request with many contexts, ...). */
  maxControlLength: number;
}

export type GuardViolation = { kind: 'unknown-pdu-type'; pduType: number } | { kind: 'pdu-too-long'; pduType: number; length: number } | { kind: 'data-before-association' };

/** Incremental PDU header parser; `push` returns a violation or undefined. Pure (no I/O), unit-tested. */
export class PduFrameChecker {
  private header = Buffer.alloc(6);
  private headerFill = 0;
  private remaining = 0;
  private inRequest = false;
  associationRequested = false;
  /** The whole A-ASSOCIATE-RQ PDU has arrived (not just its header). */
  associationRequestComplete = false;

  constructor(private readonly limits: PduLimits) {}

  push(chunk: Buffer): GuardViolation | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - i);
        this.remaining -= take;
        i += take;
        if (this.remaining === 0) this.endOfPdu();
        continue;
      }
      const take = Math.min(6 - this.headerFill, chunk.length - i);
      chunk.copy(this.header, this.headerFill, i, i + take);
      this.headerFill += take;
      i += take;
      if (this.headerFill < 6) break;
      this.headerFill = 0;
      const type = this.header[0]!;
      const length = this.header.readUInt32BE(2);
      if (type < PduType.AssociateRq || type > PduType.Abort) return { kind: 'unknown-pdu-type', pduType: type };
      if (type === PduType.AssociateRq) {
        this.associationRequested = true;
        this.inRequest = true;
      } else if (!this.associationRequested && type !== PduType.Abort) return { kind: 'data-before-association' };
      const max = type === PduType.PData ? this.limits.maxPDataLength : this.limits.maxControlLength;
      if (length > max) return { kind: 'pdu-too-long', pduType: type, length };
      this.remaining = length;
      if (length === 0) this.endOfPdu();
    }
    return undefined;
  }

  private endOfPdu(): void {
    if (this.inRequest) this.associationRequestComplete = true;
    this.inRequest = false;
  }
}

/**
 * Cuts a byte stream into whole PDUs. A PDU that arrives in one chunk is passed on as a view of it (no
 * copy); one spread over several chunks is joined once. (dcmjs-dimse joins the chunks of a PDU with one
 * Buffer.concat per chunk, copying a 256 KiB P-DATA PDU several times over; given whole PDUs it copies
 * nothing.) Lengths must already have been checked (PduFrameChecker) before bytes are pushed here.
 * With `pushKeepingPData`, a P-DATA-TF PDU spread over several chunks is passed on as the list of views of
 * those chunks instead (the C-STORE fast path writes them as they are: a data set is not copied once more).
 */
export class PduFramer {
  private parts: Buffer[] = [];
  private buffered = 0;
  /** Total size (header included) of the PDU being collected, once its header is known. */
  private pduSize: number | undefined;

  push(chunk: Buffer): Buffer[] {
    return this.frame(chunk, false) as Buffer[];
  }

  /** As push, but a P-DATA-TF PDU spread over several chunks comes as the list of views of them. */
  pushKeepingPData(chunk: Buffer): PduBytes[] {
    return this.frame(chunk, true);
  }

  private frame(chunk: Buffer, keepPDataChunks: boolean): PduBytes[] {
    const out: PduBytes[] = [];
    let c = chunk;
    while (c.length > 0) {
      if (this.buffered === 0 && c.length >= 6) {
        // Fast path: whole PDUs at the start of the chunk need no buffering.
        const size = 6 + c.readUInt32BE(2);
        if (c.length >= size) {
          out.push(c.subarray(0, size));
          c = c.subarray(size);
          continue;
        }
      }
      this.parts.push(c);
      this.buffered += c.length;
      c = Buffer.alloc(0);
      if (this.pduSize === undefined && this.buffered >= 6) {
        const head = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.buffered);
        this.pduSize = 6 + head.readUInt32BE(2);
      }
      if (this.pduSize !== undefined && this.buffered >= this.pduSize) {
        const n = this.parts.length;
        const last = this.parts[n - 1]!;
        const cut = last.length - (this.buffered - this.pduSize);
        if (keepPDataChunks && n > 1 && this.parts[0]![0] === 0x04 && cut > 0) {
          const list = this.parts.slice(0, n - 1);
          list.push(last.subarray(0, cut));
          out.push(list);
          c = last.subarray(cut);
          this.parts = [];
          this.buffered = 0;
          this.pduSize = undefined;
          continue;
        }
        const all = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.buffered);
        out.push(all.subarray(0, this.pduSize));
        c = all.subarray(this.pduSize);
        this.parts = [];
        this.buffered = 0;
        this.pduSize = undefined;
      }
    }
    return out;
  }
}

/**
 * Interposes the checker on the socket's 'data' events: violating bytes are never delivered to the
 * library; `onViolation` decides what happens (the server destroys the socket). Bytes that pass are
 * delivered as whole PDUs (PduFramer).
 */
export interface PduRouter {
  /** Takes a whole PDU instead of the library (returns true), or leaves it to the library (false). */
  intercept?: (pdu: PduBytes) => boolean;
}

/**
 * Returns the function that hands a PDU to the library (for a router that took it and wants to pass it on
 * later, in order).
 */
export function guardSocket(socket: Socket, checker: PduFrameChecker, onViolation: (v: GuardViolation) => void, router?: PduRouter): (pdu: Buffer) => boolean {
  const originalEmit = socket.emit.bind(socket) as (event: string | symbol, ...args: unknown[]) => boolean;
  const framer = new PduFramer();
  let violated = false;
  (socket as unknown as { emit: (event: string | symbol, ...args: unknown[]) => boolean }).emit = (event, ...args) => {
    if (event === 'data') {
      if (violated) return false;
      const chunk = args[0] as Buffer;
      const v = checker.push(chunk);
      if (v) {
        violated = true;
        onViolation(v);
        return false;
      }
      let delivered = false;
      for (const pdu of router ? framer.pushKeepingPData(chunk) : framer.push(chunk)) {
        if (router?.intercept?.(pdu)) continue;
        delivered = originalEmit('data', joinPdu(pdu)) || delivered;
      }
      return delivered;
    }
    return originalEmit(event, ...args);
  };
  return (pdu) => originalEmit('data', pdu);
}
