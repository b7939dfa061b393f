/**
 * A minimal durable C-STORE receiver on Node, for the ingest bench only (never part of the node): what the same
 * runtime does when a data set costs nothing but its bytes and the node's durability contract. It uses the node's
 * own PDU framing and command-set code, accepts every presentation context (explicit VR little endian when
 * proposed), writes each data set's fragments to a new spool file as they arrive and hashes them (sha256), then
 * renames the file into place and fdatasyncs it together with an fsync of its directory before the C-STORE-RSP,
 * like the node. What it leaves out is everything else the node does per instance: no association policy, no
 * validation, no index, no study assembly, no dcmjs-dimse.
 *
 * `node dist/bench/minimal-receiver.js PORT DIR`: prints "listening" once it listens on 127.0.0.1:PORT.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, fdatasync, fsync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { Status } from '../src/dicom/status';
import { TransferSyntax } from '../src/dicom/uids';
import { encodeCStoreResponse, parseCommandSet, type CommandSet } from '../src/receive/dimse/command-set';
import { encodePData, joinPdu, parsePDataParts, pduType } from '../src/receive/dimse/p-data';
import { PduFramer, PduType } from '../src/receive/dimse/pdu-guard';
import { pduItem as item } from '../test/helpers/raw-dimse';

const EXPLICIT_VR_LE: string = TransferSyntax.ExplicitVRLittleEndian;
const MAX_PDU = 262144;
const fdatasyncP = promisify(fdatasync);
const fsyncP = promisify(fsync);

function evenUid(uid: string): Buffer {
  return Buffer.from(uid.length % 2 ? `${uid}\0` : uid, 'latin1');
}

/** A-ASSOCIATE-AC for an A-ASSOCIATE-RQ (PS3.8 9.3.2-9.3.3): every presentation context accepted. */
export function acceptAll(rq: Buffer): Buffer {
  const contexts: { id: number; transferSyntax: string }[] = [];
  for (let off = 74; off + 4 <= rq.length; ) {
    const type = rq[off]!;
    const len = rq.readUInt16BE(off + 2);
    const body = rq.subarray(off + 4, off + 4 + len);
    if (type === 0x20) {
      const syntaxes: string[] = [];
      for (let o = 4; o + 4 <= body.length; ) {
        const l = body.readUInt16BE(o + 2);
        if (body[o] === 0x40) syntaxes.push(body.subarray(o + 4, o + 4 + l).toString('latin1').replace(/\0+$/, ''));
        o += 4 + l;
      }
      contexts.push({ id: body[0]!, transferSyntax: syntaxes.includes(EXPLICIT_VR_LE) ? EXPLICIT_VR_LE : (syntaxes[0] ?? EXPLICIT_VR_LE) });
    }
    off += 4 + len;
  }
  const maxLength = Buffer.alloc(4);
  maxLength.writeUInt32BE(MAX_PDU);
  const user = item(0x50, Buffer.concat([item(0x51, maxLength), item(0x52, evenUid('1.2.826.0.1.3680043.8.498.2'))]));
  const body = Buffer.concat([
    Buffer.from([0, 1, 0, 0]),
    rq.subarray(10, 42), // called and calling AE titles, echoed
    Buffer.alloc(32),
    item(0x10, Buffer.from('1.2.840.10008.3.1.1.1', 'latin1')),
    ...contexts.map((c) => item(0x21, Buffer.concat([Buffer.from([c.id, 0, 0, 0]), item(0x40, evenUid(c.transferSyntax))]))),
    user,
  ]);
  const h = Buffer.alloc(6);
  h[0] = 0x02;
  h.writeUInt32BE(body.length, 2);
  return Buffer.concat([h, body]);
}

interface Receiving {
  command: CommandSet;
  presentationContextId: number;
  spoolPath: string;
  fd: number;
  hash: Hash;
}

export function startMinimalReceiver(port: number, dir: string): net.Server {
  const spoolDir = path.join(dir, 'spool');
  const outDir = path.join(dir, 'instances');
  mkdirSync(spoolDir, { recursive: true });
  mkdirSync(outDir, { recursive: true });
  const outDirFd = openSync(outDir, 'r');
  let sequence = 0;
  return net
    .createServer({ noDelay: true }, (socket) => {
      const framer = new PduFramer();
      let commandParts: Buffer[] = [];
      let receiving: Receiving | undefined;
      let pending: Promise<void> = Promise.resolve();
      const fail = (err: unknown) => {
        console.error(`minimal receiver: ${String(err)}`);
        socket.destroy();
      };
      const finish = async (r: Receiving) => {
        const finalPath = path.join(outDir, `${r.command.affectedSopInstanceUid ?? sequence}.dcm`);
        renameSync(r.spoolPath, finalPath);
        await Promise.all([fdatasyncP(r.fd), fsyncP(outDirFd)]);
        closeSync(r.fd);
        r.hash.digest('hex');
        const rsp = encodeCStoreResponse({
          affectedSopClassUid: r.command.affectedSopClassUid ?? '',
          affectedSopInstanceUid: r.command.affectedSopInstanceUid ?? '',
          messageIdBeingRespondedTo: r.command.messageId,
          status: Status.Success,
        });
        for (const b of encodePData(r.presentationContextId, true, rsp, MAX_PDU)) socket.write(b);
      };
      socket.on('data', (chunk: Buffer) => {
        try {
          for (const pdu of framer.pushKeepingPData(chunk)) {
            const type = pduType(pdu);
            if (type === PduType.AssociateRq) {
              socket.write(acceptAll(joinPdu(pdu)));
            } else if (type === PduType.ReleaseRq) {
              pending = pending.then(() => {
                const rp = Buffer.alloc(10);
                rp[0] = PduType.ReleaseRp;
                rp.writeUInt32BE(4, 2);
                socket.end(rp);
              });
            } else if (type === PduType.PData) {
              for (const pdv of parsePDataParts(pdu)) {
                if (pdv.isCommand) {
                  commandParts.push(...pdv.parts);
                  if (!pdv.isLast) continue;
                  const command = parseCommandSet(Buffer.concat(commandParts));
                  commandParts = [];
                  const spoolPath = path.join(spoolDir, `${process.pid}-${sequence++}`);
                  receiving = { command, presentationContextId: pdv.presentationContextId, spoolPath, fd: openSync(spoolPath, 'wx', 0o640), hash: createHash('sha256') };
                } else if (receiving) {
                  for (const part of pdv.parts) {
                    for (let off = 0; off < part.length; ) off += writeSync(receiving.fd, part, off, part.length - off);
                    receiving.hash.update(part);
                  }
                  if (!pdv.isLast) continue;
                  const r = receiving;
                  receiving = undefined;
                  pending = pending.then(() => finish(r)).catch(fail);
                }
              }
            } else {
              socket.destroy();
            }
          }
        } catch (err) {
          fail(err);
        }
      });
      socket.on('error', () => undefined);
    })
    .listen(port, '127.0.0.1', () => console.log('listening'));
}

if (require.main === module) {
  const [port, dir] = process.argv.slice(2);
  if (!port || !dir) {
    console.error('usage: node dist/bench/minimal-receiver.js PORT DIR');
    process.exit(2);
  }
  startMinimalReceiver(Number(port), dir);
}
