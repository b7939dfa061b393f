/**
 * Receive paths beyond the happy one: the association cap, the deadline for the association request,
 * re-indexing a file left renamed but unindexed by a crash, and Enhanced MR whose geometry lives in
 * functional groups.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';
import { writeMrInstance } from '../../helpers/mr-fixture';
import { writeMrFile, type MrFrameSpec } from '../../helpers/mr-files';
import { echoscu, storescu } from '../../helpers/dicom-peers';
import { associateRq } from '../../helpers/raw-dimse';
import { deterministicUid, SopClass } from '../../../src/dicom/uids';
import { summarizeSeries } from '../../../src/select/series-summary';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Opens a raw association; resolves with the socket and the type of the first PDU answered. */
function rawAssociate(port: number): Promise<{ socket: net.Socket; pduType: number; pdu: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(associateRq('STORESCU', 'NPCAI')));
    let buf = Buffer.alloc(0);
    socket.on('data', (b: Buffer) => {
      buf = Buffer.concat([buf, b]);
      if (buf.length >= 6 && buf.length >= 6 + buf.readUInt32BE(2)) resolve({ socket, pduType: buf[0]!, pdu: buf });
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error('closed before an answer')));
  });
}

function whenClosed(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(true);
    const t = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name));
}

describe('DIMSE receive limits and recovery (integration)', function () {
  this.timeout(60000);
  let work: { dir: string; cleanup: () => void };
  const nodes: TestNode[] = [];
  const start = async (overrides: unknown, opts: { dataDir?: string } = {}) => {
    const n = await startTestNode(overrides, opts);
    nodes.push(n);
    return n;
  };

  beforeEach(() => {
    work = tempDir('npcai-limits-');
  });
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.cleanup();
    work.cleanup();
  });

  it('refuses associations beyond maxAssociations with "local limit exceeded" and serves again once one closes', async () => {
    const node = await start({ sources: [{ aeTitle: 'STORESCU' }], dimse: { maxAssociations: 2 } });
    const a = await rawAssociate(node.dimsePort);
    const b = await rawAssociate(node.dimsePort);
    assert.equal(a.pduType, 0x02, 'first association accepted');
    assert.equal(b.pduType, 0x02, 'second association accepted');
    const third = await rawAssociate(node.dimsePort);
    assert.equal(third.pduType, 0x03, 'third association rejected');
    // A-ASSOCIATE-RJ: result 2 (transient), source 3 (service provider, presentation), reason 2 (local limit exceeded).
    assert.deepEqual([third.pdu[7], third.pdu[8], third.pdu[9]], [2, 3, 2]);
    third.socket.destroy();
    const refused = await echoscu(node.dimsePort);
    assert.notEqual(refused.code, 0);
    assert.match(refused.output, /Local Limit Exceeded/i, refused.output);
    a.socket.destroy();
    await whenClosed(a.socket, 1000);
    // The node is up and has a free slot again.
    let ok = false;
    for (let i = 0; i < 20 && !ok; i++) {
      ok = (await echoscu(node.dimsePort)).code === 0;
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ok, 'C-ECHO after a slot was freed');
    b.socket.destroy();
  });

  it('closes a connection that sends no association request within associationRequestTimeoutSeconds, and keeps one that did', async () => {
    const node = await start({ sources: [{ aeTitle: 'STORESCU' }], dimse: { associationRequestTimeoutSeconds: 1 } });
    const silent = net.connect(node.dimsePort, '127.0.0.1');
    silent.on('error', () => undefined);
    const associated = await rawAssociate(node.dimsePort);
    assert.equal(associated.pduType, 0x02);
    assert.ok(await whenClosed(silent, 10000), 'silent connection still open');
    assert.equal(associated.socket.destroyed, false, 'an association that was requested in time was closed by the request deadline');
    associated.socket.destroy();
    assert.equal((await echoscu(node.dimsePort)).code, 0);
  });

  it('re-indexes at startup a stored file that a crash left without its index row, and removes spool leftovers', async () => {
    const dataDir = path.join(work.dir, 'data');
    const first = await start({ sources: [{ aeTitle: 'STORESCU' }] }, { dataDir });
    await first.cleanup();
    nodes.splice(nodes.indexOf(first), 1);
    // What a kill between rename and index commit leaves: the final file in place, no row; and a temp file.
    const spec = {
      studyUid: deterministicUid('reindex-study'),
      seriesUid: deterministicUid('reindex-series'),
      sopUid: deterministicUid('reindex-sop'),
      seriesNumber: 1,
      instanceNumber: 1,
      seriesDescription: 'AX T2 TSE FS',
    };
    const final = path.join(dataDir, 'instances', spec.studyUid, spec.seriesUid, `${spec.sopUid}.dcm`);
    writeMrInstance(final, spec);
    mkdirSync(path.join(dataDir, 'spool', 'tmp'), { recursive: true });
    writeFileSync(path.join(dataDir, 'spool', 'tmp', 'abandoned.part'), Buffer.alloc(1000, 1));

    const node = await start({ sources: [{ aeTitle: 'STORESCU' }] }, { dataDir });
    const stored = node.instances.getInstance(spec.sopUid);
    assert.ok(stored, 'file was not re-indexed');
    assert.equal(stored.path, final);
    assert.equal(stored.sha256, sha(readFileSync(final)));
    assert.equal(stored.studyInstanceUid, spec.studyUid);
    assert.equal(stored.header.SeriesDescription, 'AX T2 TSE FS');
    assert.deepEqual(filesUnder(path.join(dataDir, 'spool')), []);
    // The assembler saw it too: the study exists and is receiving.
    const r = await node.api(`/api/v1/studies/${spec.studyUid}`);
    assert.equal(r.status, 200);
    const study = (await r.json()) as { state: string; instanceCount: number };
    assert.equal(study.state, 'receiving');
    assert.equal(study.instanceCount, 1);
  });

  it('receives Enhanced MR and indexes the first frame geometry from per-frame or shared functional groups', async () => {
    const node = await start({ sources: [{ aeTitle: 'STORESCU' }] });
    const frames = (z0: number): MrFrameSpec[] =>
      [0, 1, 2].map((i) => ({ position: [-100, -110, z0 + i * 4] as [number, number, number], values: new Array(64).fill(100 + i), pixelSpacing: [0.8, 0.8] as [number, number] }));
    const perFrameFile = path.join(work.dir, 'enh-axial.dcm');
    writeMrFile(perFrameFile, {
      sopInstanceUid: deterministicUid('enh-axial'),
      seriesInstanceUid: deterministicUid('enh-axial-series'),
      studyInstanceUid: deterministicUid('enh-study'),
      rows: 8,
      columns: 8,
      enhanced: true,
      frames: frames(-20),
    });
    const sharedFile = path.join(work.dir, 'enh-sag.dcm');
    writeMrFile(sharedFile, {
      sopInstanceUid: deterministicUid('enh-sag'),
      seriesInstanceUid: deterministicUid('enh-sag-series'),
      studyInstanceUid: deterministicUid('enh-study'),
      rows: 8,
      columns: 8,
      enhanced: true,
      sharedGeometry: true,
      orientation: [0, 1, 0, 0, 0, -1],
      frames: frames(10),
    });
    const r = await storescu(node.dimsePort, [perFrameFile, sharedFile]);
    assert.equal(r.code, 0, r.output);

    const axial = node.instances.getInstance(deterministicUid('enh-axial'));
    assert.ok(axial, r.output.slice(-1500));
    assert.equal(axial.sopClassUid, SopClass.EnhancedMrImageStorage);
    assert.equal(axial.header.NumberOfFrames, 3);
    assert.deepEqual(axial.header.ImageOrientationPatient, [1, 0, 0, 0, 1, 0]);
    assert.deepEqual(axial.header.ImagePositionPatient, [-100, -110, -20]);
    assert.deepEqual(axial.header.PixelSpacing, [0.8, 0.8]);
    assert.equal(axial.header.SliceThickness, 5);
    const perFrame = axial.header.PerFrameFunctionalGroupsSequence as Array<Record<string, Array<Record<string, unknown>>>>;
    assert.equal(perFrame.length, 1, 'only the first frame is kept');
    assert.deepEqual(perFrame[0]!.PlanePositionSequence![0]!.ImagePositionPatient, [-100, -110, -20]);
    assert.deepEqual(perFrame[0]!.PlaneOrientationSequence![0]!.ImageOrientationPatient, [1, 0, 0, 0, 1, 0]);
    assert.deepEqual(perFrame[0]!.PixelMeasuresSequence![0]!.PixelSpacing, [0.8, 0.8]);

    const sag = node.instances.getInstance(deterministicUid('enh-sag'));
    assert.ok(sag);
    assert.deepEqual(sag.header.ImageOrientationPatient, [0, 1, 0, 0, 0, -1], 'orientation from the shared groups');
    assert.deepEqual(sag.header.ImagePositionPatient, [-100, -110, 10], 'position from the first per-frame item');
    const shared = sag.header.SharedFunctionalGroupsSequence as Array<Record<string, Array<Record<string, unknown>>>>;
    assert.deepEqual(shared[0]!.PlaneOrientationSequence![0]!.ImageOrientationPatient, [0, 1, 0, 0, 0, -1]);

    // Series selection reads the planes from these headers.
    assert.equal(summarizeSeries({ seriesInstanceUid: axial.seriesInstanceUid, headers: [axial.header] }).orientation.plane, 'axial');
    assert.equal(summarizeSeries({ seriesInstanceUid: sag.seriesInstanceUid, headers: [sag.header] }).orientation.plane, 'sagittal');
    assert.equal(summarizeSeries({ seriesInstanceUid: axial.seriesInstanceUid, headers: [axial.header] }).imageCount, 3);
  });
});
