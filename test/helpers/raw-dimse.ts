/**
 * A raw-socket DIMSE peer for hostile-connection tests (node:net, loopback only): A-ASSOCIATE-RQ and
 * P-DATA-TF bytes written by hand, connections from chosen loopback source addresses (127.0.0.x).
 */
import net from 'node:net';
import { SopClass, TransferSyntax } from '../../src/dicom/uids';

/** An A-ASSOCIATE sub-item: type, reserved byte, 2-byte length, body (PS3.8 9.3.2). */
export function pduItem(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUInt16BE(body.length, 2);
  return Buffer.concat([h, body]);
}
const uid = (u: string) => Buffer.from(u, 'latin1');

/** A-ASSOCIATE-RQ (PS3.8 9.3.2) proposing Verification (context 1) and MR Image Storage (context 3), explicit VR LE. */
export function associateRq(calling: string, called: string): Buffer {
  const ae = (s: string) => Buffer.from(s.padEnd(16, ' ').slice(0, 16), 'latin1');
  const pc = (id: number, abstract: string) =>
    pduItem(0x20, Buffer.concat([Buffer.from([id, 0, 0, 0]), pduItem(0x30, uid(abstract)), pduItem(0x40, uid(TransferSyntax.ExplicitVRLittleEndian))]));
  const maxLen = Buffer.alloc(4);
  maxLen.writeUInt32BE(16384);
  const user = pduItem(0x50, Buffer.concat([pduItem(0x51, maxLen), pduItem(0x52, uid('1.2.826.0.1.3680043.8.498.1'))]));
  const fixed = Buffer.concat([Buffer.from([0, 1, 0, 0]), ae(called), ae(calling), Buffer.alloc(32)]);
  const body = Buffer.concat([fixed, pduItem(0x10, uid('1.2.840.10008.3.1.1.1')), pc(1, SopClass.Verification), pc(3, SopClass.MrImageStorage), user]);
  const h = Buffer.alloc(6);
  h[0] = 0x01;
  h.writeUInt32BE(body.length, 2);
  return Buffer.concat([h, body]);
}

/** One implicit VR LE element of group 0000 (a command set element), written by hand. */
export function commandElement(element: number, value: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(0x0000, 0);
  h.writeUInt16LE(element, 2);
  h.writeUInt32LE(value.length, 4);
  return Buffer.concat([h, value]);
}
/** A US value (little endian). */
export const usValue = (v: number) => Buffer.from([v & 0xff, v >> 8]);
/** A UI value, padded with NUL to even length. */
export const uiValue = (s: string) => Buffer.from(s.length % 2 ? `${s}\0` : s, 'latin1');

/** A command set: CommandField, MessageID, CommandDataSetType (0x0101: none), AffectedSOPClassUID. */
export function commandSet(commandField: number, dataSetType: number, sopClass: string = SopClass.Verification): Buffer {
  const body = Buffer.concat([commandElement(0x0002, uiValue(sopClass)), commandElement(0x0100, usValue(commandField)), commandElement(0x0110, usValue(1)), commandElement(0x0800, usValue(dataSetType))]);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(body.length, 0);
  return Buffer.concat([commandElement(0x0000, len), body]);
}

/** A P-DATA-TF PDU with one PDV. */
export function pdata(presentationContextId: number, isCommand: boolean, isLast: boolean, value: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x04;
  h.writeUInt32BE(6 + value.length, 2);
  h.writeUInt32BE(2 + value.length, 6);
  h[10] = presentationContextId;
  h[11] = (isCommand ? 1 : 0) | (isLast ? 2 : 0);
  return Buffer.concat([h, value]);
}

export interface RawConnection {
  socket: net.Socket;
  /** Every byte received so far. */
  received(): Buffer;
  /** Resolves with the first whole PDU received, or undefined if the connection closed (or `ms` passed) first. */
  firstPdu(ms: number): Promise<Buffer | undefined>;
  /** Resolves true once the connection closed, false after `ms`. */
  closed(ms: number): Promise<boolean>;
}

/** Connects to 127.0.0.1:`port` from `localAddress` and resolves once connected. */
export function connectRaw(port: number, localAddress = '127.0.0.1'): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    let buf = Buffer.alloc(0);
    let isClosed = false;
    const waiters: Array<() => void> = [];
    const wake = () => waiters.splice(0).forEach((w) => w());
    socket.on('data', (b: Buffer) => {
      buf = Buffer.concat([buf, b]);
      wake();
    });
    socket.on('close', () => {
      isClosed = true;
      wake();
    });
    socket.on('error', (e) => (socket.connecting ? reject(e) : undefined));
    const conn: RawConnection = {
      socket,
      received: () => buf,
      firstPdu: (ms) =>
        new Promise((res) => {
          const t = setTimeout(() => res(undefined), ms);
          const check = () => {
            if (buf.length >= 6 && buf.length >= 6 + buf.readUInt32BE(2)) {
              clearTimeout(t);
              res(buf.subarray(0, 6 + buf.readUInt32BE(2)));
            } else if (isClosed) {
              clearTimeout(t);
              res(undefined);
            } else waiters.push(check);
          };
          check();
        }),
      closed: (ms) =>
        new Promise((res) => {
          if (isClosed) return res(true);
          const t = setTimeout(() => res(false), ms);
          socket.once('close', () => {
            clearTimeout(t);
            res(true);
          });
        }),
    };
    socket.once('connect', () => resolve(conn));
  });
}

/** Connects and negotiates; resolves with the connection and the type of the PDU answered (0 when closed unanswered). */
export async function associate(port: number, opts: { localAddress?: string; calling?: string; called?: string; timeoutMs?: number } = {}): Promise<{ conn: RawConnection; pduType: number }> {
  const conn = await connectRaw(port, opts.localAddress);
  conn.socket.write(associateRq(opts.calling ?? 'RAWSCU', opts.called ?? 'NPCAI'));
  const pdu = await conn.firstPdu(opts.timeoutMs ?? 5000);
  return { conn, pduType: pdu ? pdu[0]! : 0 };
}
