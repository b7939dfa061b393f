import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { CommandField, CommandSetError, encodeCStoreResponse, parseCommandSet } from '../../../src/receive/dimse/command-set';
import { PDataError, encodePData, parsePData } from '../../../src/receive/dimse/p-data';
import { FastStorePath, type NegotiatedContext } from '../../../src/receive/dimse/fast-store-path';
import { PduFramer } from '../../../src/receive/dimse/pdu-guard';
import { InstanceStore } from '../../../src/store/instance-store';
import { openDatabase } from '../../../src/store/database';
import { silentLogger } from '../../../src/logging/logger';
import { Status } from '../../../src/dicom/status';
import { SopClass, TransferSyntax, deterministicUid } from '../../../src/dicom/uids';
import { BufferSource } from '../../../src/dicom/dataset-scan';
import { readFileMeta } from '../../../src/dicom/part10';
import { encodeMrDataset } from '../../helpers/mr-fixture';
import { tempDir } from '../../helpers/temp-dir';
import { commandElement, uiValue, usValue } from '../../helpers/raw-dimse';


function cStoreRq(opts: { messageId: number; sopClass: string; sopInstance: string; dataSetType?: number }): Buffer {
  const body = Buffer.concat([
    commandElement(0x0002, uiValue(opts.sopClass)),
    commandElement(0x0100, usValue(0x0001)),
    commandElement(0x0110, usValue(opts.messageId)),
    commandElement(0x0700, usValue(0)),
    commandElement(0x0800, usValue(opts.dataSetType ?? 0x0000)),
    commandElement(0x1000, uiValue(opts.sopInstance)),
  ]);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(body.length, 0);
  return Buffer.concat([commandElement(0x0000, len), body]);
}

/** A P-DATA-TF PDU with the given PDVs: [contextId, control header, value]. */
function pdata(items: Array<[number, number, Buffer]>): Buffer {
  const parts = items.map(([pc, mch, v]) => {
    const h = Buffer.alloc(6);
    h.writeUInt32BE(v.length + 2, 0);
    h[4] = pc;
    h[5] = mch;
    return Buffer.concat([h, v]);
  });
  const body = Buffer.concat(parts);
  const h = Buffer.alloc(6);
  h[0] = 0x04;
  h.writeUInt32BE(body.length, 2);
  return Buffer.concat([h, body]);
}

describe('DIMSE command sets (implicit VR little endian)', () => {
  it('parses a hand-made C-STORE-RQ, stripping UID padding', () => {
    const c = parseCommandSet(cStoreRq({ messageId: 513, sopClass: SopClass.MrImageStorage, sopInstance: '1.2.3.45' }));
    assert.equal(c.commandField, CommandField.CStoreRq);
    assert.equal(c.messageId, 513);
    assert.equal(c.commandDataSetType, 0x0000);
    assert.equal(c.affectedSopClassUid, SopClass.MrImageStorage);
    assert.equal(c.affectedSopInstanceUid, '1.2.3.45');
  });

  it('refuses command sets that are truncated, outside group 0000 or lack CommandField', () => {
    const good = cStoreRq({ messageId: 1, sopClass: '1.2', sopInstance: '1.3' });
    assert.throws(() => parseCommandSet(good.subarray(0, good.length - 3)), CommandSetError);
    const foreign = Buffer.from(good);
    foreign.writeUInt16LE(0x0008, 12);
    assert.throws(() => parseCommandSet(foreign), CommandSetError);
    assert.throws(() => parseCommandSet(Buffer.concat([commandElement(0x0110, usValue(1)), commandElement(0x0800, usValue(0x0101))])), /CommandField/);
  });

  it('encodes a C-STORE-RSP with its group length, fields in tag order and a 64-character error comment', () => {
    const rsp = encodeCStoreResponse({
      affectedSopClassUid: SopClass.MrImageStorage,
      affectedSopInstanceUid: '1.2.3',
      messageIdBeingRespondedTo: 7,
      status: Status.OutOfResources,
      errorComment: 'x'.repeat(100),
    });
    // (0000,0000) UL = length of everything after it.
    assert.equal(rsp.readUInt16LE(2), 0x0000);
    assert.equal(rsp.readUInt32LE(4), 4);
    assert.equal(rsp.readUInt32LE(8), rsp.length - 12);
    const tags: number[] = [];
    const values = new Map<number, Buffer>();
    for (let pos = 0; pos < rsp.length; ) {
      const e = rsp.readUInt16LE(pos + 2);
      const n = rsp.readUInt32LE(pos + 4);
      tags.push(e);
      values.set(e, rsp.subarray(pos + 8, pos + 8 + n));
      pos += 8 + n;
    }
    assert.deepEqual(tags, [0x0000, 0x0002, 0x0100, 0x0120, 0x0800, 0x0900, 0x0902, 0x1000]);
    assert.equal(values.get(0x0100)!.readUInt16LE(0), 0x8001);
    assert.equal(values.get(0x0120)!.readUInt16LE(0), 7);
    assert.equal(values.get(0x0800)!.readUInt16LE(0), 0x0101);
    assert.equal(values.get(0x0900)!.readUInt16LE(0), 0xa700);
    assert.equal(values.get(0x0902)!.toString('latin1'), 'x'.repeat(64));
    assert.equal(values.get(0x1000)!.toString('latin1'), '1.2.3\0');
    assert.ok(tags.every((t) => values.get(t)!.length % 2 === 0), 'every value has even length');
    const ok = encodeCStoreResponse({ affectedSopClassUid: '1.2', affectedSopInstanceUid: '1.3', messageIdBeingRespondedTo: 1, status: 0 });
    assert.equal(parseCommandSet(ok).commandField, CommandField.CStoreRsp);
  });
});

describe('P-DATA-TF PDUs', () => {
  it('yields every PDV of a PDU with its context, command and last flags, as views', () => {
    const pdu = pdata([
      [3, 0x03, Buffer.from('cmd!')],
      [3, 0x00, Buffer.from('data1')],
      [3, 0x02, Buffer.from('data22')],
    ]);
    const pdvs = parsePData(pdu);
    assert.deepEqual(
      pdvs.map((p) => [p.presentationContextId, p.isCommand, p.isLast, p.value.toString()]),
      [
        [3, true, true, 'cmd!'],
        [3, false, false, 'data1'],
        [3, false, true, 'data22'],
      ],
    );
    assert.equal(pdvs[1]!.value.buffer, pdu.buffer);
  });

  it('refuses a PDV whose length runs past its PDU', () => {
    const pdu = pdata([[1, 0x03, Buffer.from('abcd')]]);
    pdu.writeUInt32BE(50, 6);
    assert.throws(() => parsePData(pdu), PDataError);
  });

  it('cuts a message so that no PDU exceeds the peer maximum length, last flag on the final fragment only', () => {
    const value = Buffer.from(Array.from({ length: 301 }, (_, i) => i & 0xff));
    const pdus = encodePData(5, true, value, 64);
    assert.equal(pdus.length, Math.ceil(301 / 58));
    const pdvs = pdus.flatMap((p) => {
      assert.ok(p.readUInt32BE(2) <= 64, `PDU body ${p.readUInt32BE(2)} > 64`);
      return parsePData(p);
    });
    assert.deepEqual(Buffer.concat(pdvs.map((p) => p.value)), value);
    assert.deepEqual(
      pdvs.map((p) => p.isLast),
      pdvs.map((_, i) => i === pdvs.length - 1),
    );
    assert.ok(pdvs.every((p) => p.isCommand && p.presentationContextId === 5));
    assert.equal(encodePData(5, true, value, 0).length, 1, 'max length 0 means unlimited');
  });
});

describe('FastStorePath (C-STORE outside dcmjs-dimse)', function () {
  this.timeout(20000);
  const MR_PC = 1;
  const ECHO_PC = 3;

  async function harness(opts: { peerMaxPduLength: number; maxInstanceBytes?: number; freeSpaceCheckBytes?: number; gatherLimit?: number }) {
    const work = tempDir('npcai-fast-');
    const db = openDatabase(work.dir);
    const store = new InstanceStore({
      db,
      dataDir: work.dir,
      logger: silentLogger(),
      fsync: true,
      conflictPolicy: 'reject',
      freeSpaceWatermarkMb: 0,
      acceptedTransferSyntaxes: [TransferSyntax.ExplicitVRLittleEndian],
    });
    await store.startupRecovery({ calledAeTitle: 'NPCAI' });
    const sent: Buffer[] = [];
    const delivered: Buffer[] = [];
    const inFlight = new Set<Promise<unknown>>();
    let closed = false;
    const contexts = new Map<number, NegotiatedContext>([
      [MR_PC, { abstractSyntaxUid: SopClass.MrImageStorage, transferSyntaxUid: TransferSyntax.ExplicitVRLittleEndian }],
      [ECHO_PC, { abstractSyntaxUid: '1.2.840.10008.1.1', transferSyntaxUid: TransferSyntax.ImplicitVRLittleEndian }],
    ]);
    const fast = new FastStorePath({
      store,
      log: silentLogger(),
      contexts,
      peerMaxPduLength: opts.peerMaxPduLength,
      ingestContext: () => ({ calledAeTitle: 'NPCAI', callingAeTitle: 'UNIT', via: 'dimse' }),
      sourceAeTitle: 'UNIT',
      send: (b) => sent.push(...b),
      deliver: (p) => delivered.push(p),
      close: () => (closed = true),
      touch: () => undefined,
      pause: () => undefined,
      resume: () => undefined,
      inFlight,
      maxInstanceBytes: opts.maxInstanceBytes,
      freeSpaceCheckBytes: opts.freeSpaceCheckBytes,
      gatherLimit: opts.gatherLimit,
    });
    const release = Buffer.from([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
    /** What the spool holds once the peer asked for release (the prepared spare file is gone by then). */
    const spoolAfterRelease = () => {
      fast.push(release);
      return readdirSync(store.spoolDir);
    };
    const settle = async () => {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      await new Promise((r) => setImmediate(r));
    };
    /** The response PDVs sent so far, reassembled into command sets. */
    const responses = () => {
      const out: Buffer[] = [];
      let parts: Buffer[] = [];
      for (const p of sent) {
        if (p[0] !== 0x04) continue;
        for (const pdv of parsePData(p)) {
          parts.push(pdv.value);
          if (pdv.isLast) {
            out.push(Buffer.concat(parts));
            parts = [];
          }
        }
      }
      return out.map((c) => readResponse(c));
    };
    const cleanup = async () => {
      await store.close();
      db.close();
      work.cleanup();
    };
    return { work, store, fast, sent, delivered, settle, responses, cleanup, spoolAfterRelease, isClosed: () => closed };
  }

  function readResponse(c: Buffer): { status: number; messageId: number; sop: string; comment?: string } {
    const v = new Map<number, Buffer>();
    for (let pos = 0; pos < c.length; ) {
      const n = c.readUInt32LE(pos + 4);
      v.set(c.readUInt16LE(pos + 2), c.subarray(pos + 8, pos + 8 + n));
      pos += 8 + n;
    }
    assert.equal(v.get(0x0100)!.readUInt16LE(0), 0x8001);
    return {
      status: v.get(0x0900)!.readUInt16LE(0),
      messageId: v.get(0x0120)!.readUInt16LE(0),
      sop: v.get(0x1000)!.toString('latin1').replace(/\0$/, ''),
      comment: v.get(0x0902)?.toString('latin1').trim(),
    };
  }

  function instance(n: number) {
    const spec = {
      studyUid: deterministicUid('fast-study'),
      seriesUid: deterministicUid('fast-series'),
      sopUid: deterministicUid(`fast-${n}`),
      seriesNumber: 1,
      instanceNumber: n,
      seriesDescription: 'AX T2',
      rows: 128,
      columns: 128,
    };
    return { spec, dataset: encodeMrDataset(spec) };
  }

  /** The PDUs a sender would send for one C-STORE, data set cut into fragments of the given sizes. */
  function cStorePdus(messageId: number, sop: string, dataset: Buffer, fragmentSizes: number[], opts: { commandWithFirstData?: boolean; sopClass?: string } = {}): Buffer[] {
    const cmd = cStoreRq({ messageId, sopClass: opts.sopClass ?? SopClass.MrImageStorage, sopInstance: sop });
    const frags: Buffer[] = [];
    for (let pos = 0, i = 0; pos < dataset.length; i++) {
      const n = fragmentSizes[i % fragmentSizes.length]!;
      frags.push(dataset.subarray(pos, pos + n));
      pos += n;
    }
    const pdus: Buffer[] = [];
    // The command itself in two fragments, in two PDUs.
    pdus.push(pdata([[MR_PC, 0x01, cmd.subarray(0, 20)]]));
    if (opts.commandWithFirstData) {
      pdus.push(pdata([[MR_PC, 0x03, cmd.subarray(20)], [MR_PC, frags.length === 1 ? 0x02 : 0x00, frags[0]!]]));
      frags.shift();
    } else pdus.push(pdata([[MR_PC, 0x03, cmd.subarray(20)]]));
    frags.forEach((f, i) => pdus.push(pdata([[MR_PC, i === frags.length - 1 ? 0x02 : 0x00, f]])));
    return pdus;
  }

  /** Feeds PDUs as a byte stream cut at arbitrary points (a PDU split across socket reads), through the framer. */
  function feed(fast: FastStorePath, pdus: Buffer[], cut: number): void {
    const stream = Buffer.concat(pdus);
    const framer = new PduFramer();
    for (let i = 0; i < stream.length; i += cut) for (const pdu of framer.push(stream.subarray(i, i + cut))) fast.push(pdu);
  }

  it('reassembles data set fragments from many PDUs into the stored file byte for byte and answers Success', async () => {
    // Validated from the copy gathered in memory (the default), and from the file read back (larger than gatherLimit).
    for (const gatherLimit of [undefined, 1024]) {
      const h = await harness({ peerMaxPduLength: 16384, gatherLimit });
      try {
        const { spec, dataset } = instance(1);
        feed(h.fast, cStorePdus(11, spec.sopUid, dataset, [1000, 7, 4093, 16000]), 3001);
        await h.settle();
        assert.deepEqual(h.responses(), [{ status: Status.Success, messageId: 11, sop: spec.sopUid, comment: undefined }]);
        const stored = h.store.getInstance(spec.sopUid)!;
        assert.ok(stored, 'indexed');
        const file = readFileSync(stored.path);
        assert.deepEqual(file.subarray(file.length - dataset.length), dataset);
        assert.equal(file.toString('latin1', 128, 132), 'DICM');
        assert.equal(stored.sha256, createHash('sha256').update(file).digest('hex'));
        // Who received it is in the File Meta Information, so nothing is written beside the file.
        const meta = readFileMeta(new BufferSource(file));
        assert.deepEqual([meta.sendingApplicationEntityTitle, meta.receivingApplicationEntityTitle], ['UNIT', 'NPCAI']);
        assert.deepEqual(readdirSync(path.dirname(stored.path)), [path.basename(stored.path)]);
        assert.deepEqual(h.delivered, [], 'nothing of a C-STORE reaches the library');
        assert.deepEqual(h.spoolAfterRelease(), []);
      } finally {
        await h.cleanup();
      }
    }
  });

  it('takes a PDU that carries the command end and the first data fragment, and stores consecutive instances', async () => {
    const h = await harness({ peerMaxPduLength: 0 });
    try {
      const a = instance(2);
      const b = instance(3);
      feed(h.fast, [...cStorePdus(1, a.spec.sopUid, a.dataset, [5000], { commandWithFirstData: true }), ...cStorePdus(2, b.spec.sopUid, b.dataset, [b.dataset.length])], 65536);
      await h.settle();
      assert.deepEqual(
        h.responses().map((r) => [r.messageId, r.status, r.sop]),
        [
          [1, Status.Success, a.spec.sopUid],
          [2, Status.Success, b.spec.sopUid],
        ],
      );
      assert.ok(h.store.getInstance(a.spec.sopUid) && h.store.getInstance(b.spec.sopUid));
    } finally {
      await h.cleanup();
    }
  });

  it('answers two C-STOREs packed into one PDU in order, the second after the first is stored', async () => {
    const h = await harness({ peerMaxPduLength: 0 });
    try {
      const a = instance(9);
      const b = instance(10);
      const cmd = (id: number, sop: string) => cStoreRq({ messageId: id, sopClass: SopClass.MrImageStorage, sopInstance: sop });
      h.fast.push(
        pdata([
          [MR_PC, 0x03, cmd(21, a.spec.sopUid)],
          [MR_PC, 0x02, a.dataset],
          [MR_PC, 0x03, cmd(22, b.spec.sopUid)],
          [MR_PC, 0x02, b.dataset],
        ]),
      );
      await h.settle();
      await h.settle();
      assert.deepEqual(
        h.responses().map((r) => [r.messageId, r.status]),
        [
          [21, Status.Success],
          [22, Status.Success],
        ],
      );
      assert.ok(h.store.getInstance(b.spec.sopUid));
    } finally {
      await h.cleanup();
    }
  });

  it('sends its response in PDUs no longer than the peer maximum length', async () => {
    const h = await harness({ peerMaxPduLength: 32 });
    try {
      const { spec, dataset } = instance(4);
      feed(h.fast, cStorePdus(9, spec.sopUid, dataset, [8192]), 8192);
      await h.settle();
      assert.ok(h.sent.length > 3, 'response cut into several PDUs');
      for (const p of h.sent) assert.ok(p.readUInt32BE(2) <= 32, `PDU body ${p.readUInt32BE(2)} > 32`);
      assert.deepEqual(h.responses().map((r) => r.status), [Status.Success]);
    } finally {
      await h.cleanup();
    }
  });

  it('refuses a SOP class that differs from its presentation context, and a data set that is not what the command says, storing nothing', async () => {
    const h = await harness({ peerMaxPduLength: 0 });
    try {
      const a = instance(5);
      const b = instance(6);
      feed(h.fast, cStorePdus(1, a.spec.sopUid, a.dataset, [4096], { sopClass: SopClass.EnhancedMrImageStorage }), 4096);
      await h.settle();
      feed(h.fast, cStorePdus(2, '1.2.3.999', b.dataset, [4096]), 4096);
      await h.settle();
      const r = h.responses();
      assert.deepEqual(r.map((x) => x.status), [Status.SopClassNotSupported, Status.DataSetDoesNotMatchSopClass]);
      assert.match(r[1]!.comment ?? '', /SOPInstanceUID differs/);
      assert.equal(h.store.getInstance(a.spec.sopUid), undefined);
      assert.equal(h.store.getInstance(b.spec.sopUid), undefined);
      assert.deepEqual(h.spoolAfterRelease(), []);
    } finally {
      await h.cleanup();
    }
  });

  it('hands messages on other contexts and non-data PDUs to the library, in order after a pending store', async () => {
    const h = await harness({ peerMaxPduLength: 0 });
    try {
      const echo = pdata([[ECHO_PC, 0x03, Buffer.from('echo-command')]]);
      h.fast.push(echo);
      const { spec, dataset } = instance(7);
      const release = Buffer.from([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
      feed(h.fast, [...cStorePdus(3, spec.sopUid, dataset, [dataset.length]), release], 100000);
      assert.deepEqual(h.delivered, [echo], 'the release waits for the store to be answered');
      await h.settle();
      assert.deepEqual(h.delivered, [echo, release]);
      assert.equal(h.responses().length, 1);
    } finally {
      await h.cleanup();
    }
  });

  it('removes the partial spool file when the association ends mid data set, and answers nothing', async () => {
    for (const gatherLimit of [undefined, 1024]) {
      const h = await harness({ peerMaxPduLength: 0, gatherLimit });
      try {
        const { spec, dataset } = instance(8);
        const pdus = cStorePdus(4, spec.sopUid, dataset, [4096]);
        await new Promise((r) => setTimeout(r, 50));
        const spare = readdirSync(h.store.spoolDir);
        assert.equal(spare.length, 1, 'the next spool file is created ahead');
        for (const p of pdus.slice(0, 4)) h.fast.push(p);
        assert.deepEqual(readdirSync(h.store.spoolDir), spare, 'the data set is spooled into it while it arrives');
        assert.ok(statSync(path.join(h.store.spoolDir, spare[0]!)).size > 4096);
        await h.fast.onClose();
        assert.deepEqual(readdirSync(h.store.spoolDir), []);
        assert.equal(h.responses().length, 0);
      } finally {
        await h.cleanup();
      }
    }
  });

  it('aborts the association on a data PDV that arrives before any command', async () => {
    const h = await harness({ peerMaxPduLength: 0 });
    try {
      h.fast.push(pdata([[MR_PC, 0x02, Buffer.from('stray')]]));
      assert.ok(h.isClosed());
      assert.deepEqual([...h.sent[0]!.subarray(0, 2)], [0x07, 0x00]);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(readdirSync(path.join(h.work.dir, 'spool', 'tmp')), []);
    } finally {
      await h.cleanup();
    }
  });

  it('answers 0xA700 to a data set over maxInstanceBytes, dropping its bytes as they come', async () => {
    const h = await harness({ peerMaxPduLength: 0, maxInstanceBytes: 20000 });
    try {
      await new Promise((r) => setTimeout(r, 50)); // the prepared spool file is ready, and taken
      const big = instance(20);
      const pdus = cStorePdus(1, big.spec.sopUid, big.dataset, [4096]);
      for (const p of pdus.slice(0, -1)) h.fast.push(p);
      assert.deepEqual(readdirSync(h.store.spoolDir), [], 'the spool file went as soon as the cap was crossed');
      h.fast.push(pdus[pdus.length - 1]!);
      await h.settle();
      assert.deepEqual(h.responses().map((r) => [r.status, r.comment]), [[Status.OutOfResources, 'instance larger than 20000 bytes']]);
      assert.equal(h.store.getInstance(big.spec.sopUid), undefined);
    } finally {
      await h.cleanup();
    }
  });

  it('checks free space while a data set streams in and answers 0xA700 once it runs short, keeping what was stored before', async () => {
    const h = await harness({ peerMaxPduLength: 0, freeSpaceCheckBytes: 4096 });
    try {
      let short = false;
      let checks = 0;
      const real = h.store.checkFreeSpace.bind(h.store);
      h.store.checkFreeSpace = async (n?: number) => {
        checks += 1;
        return short ? { ok: false, status: Status.OutOfResources, reason: 'storage below its free space watermark', httpStatus: 507 } : real(n);
      };
      const a = instance(22);
      feed(h.fast, cStorePdus(1, a.spec.sopUid, a.dataset, [4096]), 65536);
      await h.settle();
      const checksForA = checks;
      assert.ok(checksForA >= Math.floor(a.dataset.length / 4096) - 1, `${checksForA} checks for a ${a.dataset.length}-byte data set`);
      short = true;
      await new Promise((r) => setTimeout(r, 50));
      const b = instance(23);
      const pdus = cStorePdus(2, b.spec.sopUid, b.dataset, [4096]);
      for (const p of pdus.slice(0, 4)) h.fast.push(p);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(readdirSync(h.store.spoolDir), [], 'the partial file went when the check failed');
      for (const p of pdus.slice(4)) h.fast.push(p);
      await h.settle();
      assert.deepEqual(h.responses().map((r) => [r.messageId, r.status]), [[1, Status.Success], [2, Status.OutOfResources]]);
      assert.ok(h.store.getInstance(a.spec.sopUid), 'the acknowledged instance is kept');
      assert.equal(h.store.getInstance(b.spec.sopUid), undefined);
    } finally {
      await h.cleanup();
    }
  });
});
