import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';
import { chineseName, datasetBytes, SYNTAX_UIDS, transcode, writeMrInstance, writeMrStudy, type SyntaxName } from '../../helpers/mr-fixture';
import { echoscu, storescu } from '../../helpers/dicom-peers';
import { deterministicUid, SopClass, TransferSyntax } from '../../../src/dicom/uids';
import type { InstanceStoredEvent } from '../../../src/store/instance-types';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name));
}

describe('DIMSE receive (integration, DCMTK peers)', function () {
  this.timeout(60000);
  let node: TestNode;
  let work: { dir: string; cleanup: () => void };
  let events: InstanceStoredEvent[];

  beforeEach(async () => {
    work = tempDir('npcai-rx-');
    node = await startTestNode({ sources: [{ aeTitle: 'STORESCU' }, { aeTitle: 'DCMJS' }] });
    events = [];
    node.instances.on('stored', (e) => events.push(e));
  });
  afterEach(async () => {
    await node.cleanup();
    work.cleanup();
  });

  it('answers C-ECHO from a configured source', async () => {
    const r = await echoscu(node.dimsePort);
    assert.equal(r.code, 0, r.output);
  });

  it('stores a three-series study from storescu byte for byte and emits stored events', async () => {
    const study = writeMrStudy(path.join(work.dir, 'study'), { slices: 3 });
    const r = await storescu(node.dimsePort, study.files);
    assert.equal(r.code, 0, r.output);
    const stored = node.instances.listStudyInstances(study.studyUid);
    assert.equal(stored.length, 9);
    assert.equal(events.length, 9);
    assert.ok(events.every((e) => e.via === 'dimse' && !e.duplicate));
    for (const s of study.series) assert.equal(node.instances.listSeriesInstances(s.seriesUid).length, 3);
    for (const f of study.files) {
      const sent = readFileSync(f);
      const sop = stored.find((i) => sha(datasetBytes(readFileSync(i.path))) === sha(datasetBytes(sent)));
      assert.ok(sop, `no stored file with the data set of ${f}`);
      assert.equal(sop.sha256, sha(readFileSync(sop.path)));
      assert.equal(sop.callingAeTitle, 'STORESCU');
      assert.equal(sop.calledAeTitle, 'NPCAI');
    }
    const ce = stored.find((i) => i.header.SeriesDescription === 'AX T1 SE +C')!;
    assert.equal(ce.header.ContrastBolusAgent, 'GADOVIST');
    assert.deepEqual(ce.header.ImageOrientationPatient, [1, 0, 0, 0, 1, 0]);
    assert.deepEqual(ce.header.PixelSpacing, [0.9375, 0.9375]);
    assert.equal(ce.header.Rows, 64);
    assert.deepEqual(listFiles(path.join(node.dataDir, 'spool')), []);
  });

  it('receives every supported transfer syntax unchanged', async () => {
    // One node per syntax, accepting only that syntax, so the proposal storescu makes cannot be answered
    // with another one (storescu would then transcode and the bytes would differ).
    const flags: Record<SyntaxName, string[]> = {
      'explicit-le': ['-xe'],
      'implicit-le': ['-xi'],
      'explicit-be': ['-xb'],
      'jpeg-lossless': ['-xs'],
      'jpeg-ls': ['-xt'],
      'jpeg-ls-near': ['-xu'],
      'j2k-lossless': ['-xv'],
      j2k: ['-xw'],
      rle: ['-xr'],
    };
    for (const [i, s] of (Object.keys(SYNTAX_UIDS) as SyntaxName[]).entries()) {
      const base = writeMrInstance(path.join(work.dir, `base-${s}.dcm`), {
        studyUid: deterministicUid('ts-study'),
        seriesUid: deterministicUid('ts-series'),
        sopUid: deterministicUid(`ts-${s}`),
        seriesNumber: 1,
        instanceNumber: i + 1,
        seriesDescription: 'AX T2',
      });
      const file = transcode(base, path.join(work.dir, `${s}.dcm`), s);
      const one = await startTestNode({ sources: [{ aeTitle: 'STORESCU' }], dimse: { transferSyntaxes: [SYNTAX_UIDS[s]] } });
      try {
        const r = await storescu(one.dimsePort, [file], { extra: flags[s] });
        assert.equal(r.code, 0, r.output);
        // Lossy encoders (JPEG-LS near-lossless, JPEG 2000) may assign a new SOP Instance UID.
        const sop = /\[([0-9.]+)\]/.exec(execFileSync('dcmdump', ['+P', '0008,0018', file]).toString())![1]!;
        const stored = one.instances.getInstance(sop);
        assert.ok(stored, `${s} not stored: ${r.output.slice(-2000)}`);
        assert.equal(stored.transferSyntaxUid, SYNTAX_UIDS[s], s);
        assert.equal(sha(datasetBytes(readFileSync(stored.path))), sha(datasetBytes(readFileSync(file))), `${s} changed`);
      } finally {
        await one.cleanup();
      }
    }
  });

  it('refuses an unknown called AE title with "called AE title not recognized"', async () => {
    const r = await echoscu(node.dimsePort, { aec: 'NOTUS' });
    assert.notEqual(r.code, 0);
    assert.match(r.output, /Called AE Title Not Recognized/i);
  });

  it('refuses an unknown calling AE title with "calling AE title not recognized"', async () => {
    const r = await echoscu(node.dimsePort, { aet: 'STRANGER' });
    assert.notEqual(r.code, 0);
    assert.match(r.output, /Calling AE Title Not Recognized/i);
  });

  it('answers failure statuses for truncated and inconsistent data sets and stores none of them', async () => {
    const base = (name: string) => ({
      studyUid: deterministicUid('bad-study'),
      seriesUid: deterministicUid('bad-series'),
      sopUid: deterministicUid(name),
      seriesNumber: 1,
      instanceNumber: 1,
      seriesDescription: 'AX T1',
    });
    const cases: Array<[string, string]> = [
      [writeMrInstance(path.join(work.dir, 'short.dcm'), { ...base('short'), truncatePixels: 1000 }), 'PixelData has'],
      [writeMrInstance(path.join(work.dir, 'baduid.dcm'), { ...base('baduid'), overrides: { '0020000E': ['UI', '1.2.03.abc'] } }), 'invalid SeriesInstanceUID'],
      [writeMrInstance(path.join(work.dir, 'ct.dcm'), { ...base('ctcontent'), overrides: { '00080060': ['CS', 'CT'] } }), 'Modality CT is not MR'],
      [writeMrInstance(path.join(work.dir, 'nostudy.dcm'), { ...base('nostudy'), overrides: { '0020000D': null } }), 'missing StudyInstanceUID'],
    ];
    for (const [file, reason] of cases) {
      const r = await storescu(node.dimsePort, [file], { extra: ['-d'] });
      assert.match(r.output, /DIMSE Status\s*:\s*0x(a9|c0)/i, `${file}: ${r.output.slice(-1500)}`);
      assert.match(r.output, new RegExp(reason), r.output);
    }
    assert.equal(node.instances.listStudyInstances(deterministicUid('bad-study')).length, 0);
    assert.deepEqual(listFiles(path.join(node.dataDir, 'instances')), []);
    assert.deepEqual(listFiles(path.join(node.dataDir, 'spool')), []);
  });

  it('decodes Chinese patient names in GB18030, ISO 2022 IR 58 and UTF-8', async () => {
    const charsets = ['GB18030', 'ISO 2022 IR 58', 'ISO_IR 192'] as const;
    const files = charsets.map((c, i) => {
      const n = chineseName(c);
      return writeMrInstance(path.join(work.dir, `cn${i}.dcm`), {
        studyUid: deterministicUid('cn-study'),
        seriesUid: deterministicUid('cn-series'),
        sopUid: deterministicUid(`cn-${c}`),
        seriesNumber: 1,
        instanceNumber: i + 1,
        seriesDescription: 'AX T2',
        specificCharacterSet: n.specificCharacterSet,
        patientNameBytes: n.patientNameBytes,
      });
    });
    const r = await storescu(node.dimsePort, files);
    assert.equal(r.code, 0, r.output);
    charsets.forEach((c, i) => {
      const stored = node.instances.getInstance(deterministicUid(`cn-${c}`));
      assert.ok(stored, c);
      assert.deepEqual(stored.header.PatientName, [chineseName(c).expected], c);
      assert.equal(sha(datasetBytes(readFileSync(stored.path))), sha(datasetBytes(readFileSync(files[i]!))));
    });
  });

  it('refuses a CT Image Storage proposal at the presentation context level', async () => {
    const ct = writeMrInstance(path.join(work.dir, 'ct.dcm'), {
      studyUid: deterministicUid('ct-study'),
      seriesUid: deterministicUid('ct-series'),
      sopUid: deterministicUid('ct-sop'),
      seriesNumber: 1,
      instanceNumber: 1,
      seriesDescription: 'AX',
      sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
      overrides: { '00080060': ['CS', 'CT'] },
    });
    const r = await storescu(node.dimsePort, [ct]);
    assert.match(r.output, /no presentation context|No presentation context|not supported|rejected/i, r.output);
    assert.equal(node.instances.getInstance(deterministicUid('ct-sop')), undefined);
  });

  it('never accepts deflate: a deflated file arrives inflated over explicit VR little endian', async () => {
    const src = writeMrInstance(path.join(work.dir, 'plain.dcm'), {
      studyUid: deterministicUid('df-study'),
      seriesUid: deterministicUid('df-series'),
      sopUid: deterministicUid('df-sop'),
      seriesNumber: 1,
      instanceNumber: 1,
      seriesDescription: 'AX T2',
    });
    const { execFileSync } = await import('node:child_process');
    const deflated = path.join(work.dir, 'deflated.dcm');
    execFileSync('dcmconv', ['+td', src, deflated]);
    const r = await storescu(node.dimsePort, [deflated], { extra: ['-xd'] });
    const stored = node.instances.getInstance(deterministicUid('df-sop'));
    if (stored) assert.notEqual(stored.transferSyntaxUid, TransferSyntax.DeflatedExplicitVRLittleEndian);
    assert.doesNotMatch(r.output, /Accepted[^\n]*Deflate/i);
  });

  it('is stored by the dcmjs-dimse client', async () => {
    const { Client, requests } = await import('dcmjs-dimse');
    const study = writeMrStudy(path.join(work.dir, 'dcmjs'), { slices: 2, name: 'dcmjs' });
    const client = new Client();
    const statuses: number[] = [];
    for (const f of study.files) {
      const rq = new requests.CStoreRequest(f);
      rq.on('response', (rsp: { getStatus(): number }) => statuses.push(rsp.getStatus()));
      client.addRequest(rq);
    }
    await new Promise<void>((resolve, reject) => {
      client.on('closed', () => resolve());
      client.on('networkError', (e: Error) => reject(e));
      client.send('127.0.0.1', node.dimsePort, 'DCMJS', 'NPCAI');
    });
    assert.deepEqual(statuses, study.files.map(() => 0));
    assert.equal(node.instances.listStudyInstances(study.studyUid).length, 6);
  });

  it('stores the same bytes and answers the same failures with fastStorePath off (dcmjs-dimse data path)', async () => {
    const lib = await startTestNode({ sources: [{ aeTitle: 'STORESCU' }], dimse: { fastStorePath: false } });
    try {
      const study = writeMrStudy(path.join(work.dir, 'lib'), { slices: 2, name: 'lib' });
      const r = await storescu(lib.dimsePort, study.files);
      assert.equal(r.code, 0, r.output);
      const stored = lib.instances.listStudyInstances(study.studyUid);
      assert.equal(stored.length, 6);
      for (const i of stored) assert.equal(i.sha256, sha(readFileSync(i.path)));
      const bad = writeMrInstance(path.join(work.dir, 'lib-short.dcm'), {
        studyUid: deterministicUid('lib-bad'),
        seriesUid: deterministicUid('lib-bad-series'),
        sopUid: deterministicUid('lib-short'),
        seriesNumber: 1,
        instanceNumber: 1,
        seriesDescription: 'AX T1',
        truncatePixels: 1000,
      });
      const rb = await storescu(lib.dimsePort, [bad], { extra: ['-d'] });
      assert.match(rb.output, /DIMSE Status\s*:\s*0x(a9|c0)/i, rb.output.slice(-1500));
    } finally {
      await lib.cleanup();
    }
  });

  it('drops a connection whose first PDU claims 4 GiB, without buffering it, and stays up', async () => {
    const before = process.memoryUsage().rss;
    const closed = await new Promise<boolean>((resolve) => {
      const s = net.connect(node.dimsePort, '127.0.0.1', () => {
        s.write(Buffer.from([0x04, 0x00, 0xff, 0xff, 0xff, 0xff]));
        const junk = Buffer.alloc(1024 * 1024, 0x41);
        let sent = 0;
        const pump = () => {
          while (sent < 64 && s.writable && s.write(junk)) sent++;
        };
        s.on('drain', pump);
        pump();
      });
      s.on('error', () => undefined);
      s.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 10000).unref();
    });
    assert.ok(closed, 'server kept the connection');
    assert.ok(process.memoryUsage().rss - before < 48 * 1024 * 1024, 'memory grew');
    assert.equal((await echoscu(node.dimsePort)).code, 0);
  });

  it('leaves no partial file when the peer vanishes mid-transfer, and stays up', async () => {
    const big = writeMrInstance(path.join(work.dir, 'big.dcm'), {
      studyUid: deterministicUid('ab-study'),
      seriesUid: deterministicUid('ab-series'),
      sopUid: deterministicUid('ab-sop'),
      seriesNumber: 1,
      instanceNumber: 1,
      seriesDescription: 'AX T2',
      rows: 1024,
      columns: 1024,
    });
    // A proxy that forwards storescu's bytes and cuts both sides after 600 KB of the 2 MB instance.
    let forwarded = 0;
    let cut!: () => void;
    const wasCut = new Promise<void>((r) => (cut = r));
    const proxy = net.createServer((client) => {
      const upstream = net.connect(node.dimsePort, '127.0.0.1');
      upstream.pipe(client);
      client.on('data', (d: Buffer) => {
        forwarded += d.length;
        if (forwarded > 600 * 1024) {
          client.destroy();
          upstream.destroy();
          cut();
        } else upstream.write(d);
      });
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const port = (proxy.address() as net.AddressInfo).port;
    await storescu(port, [big]);
    await wasCut;
    proxy.close();
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(listFiles(path.join(node.dataDir, 'spool')), []);
    assert.deepEqual(listFiles(path.join(node.dataDir, 'instances')), []);
    assert.equal((await echoscu(node.dimsePort)).code, 0);
  });

  it('treats a resent identical instance as an idempotent success and refuses different content under the same UID', async () => {
    const spec = {
      studyUid: deterministicUid('dup-study'),
      seriesUid: deterministicUid('dup-series'),
      sopUid: deterministicUid('dup-sop'),
      seriesNumber: 1,
      instanceNumber: 1,
      seriesDescription: 'AX T2',
    };
    const a = writeMrInstance(path.join(work.dir, 'a.dcm'), spec);
    const b = writeMrInstance(path.join(work.dir, 'b.dcm'), { ...spec, seed: 12345 });
    assert.equal((await storescu(node.dimsePort, [a])).code, 0);
    const again = await storescu(node.dimsePort, [a]);
    assert.doesNotMatch(again.output, /Failure|Error/i, again.output);
    assert.equal(events.filter((e) => e.duplicate).length, 1);
    const diff = await storescu(node.dimsePort, [b], { extra: ['-d'] });
    assert.match(diff.output, /DIMSE Status\s*:\s*0xa9ff/i);
    assert.match(diff.output, /different object/i);
    const stored = node.instances.getInstance(spec.sopUid)!;
    assert.equal(sha(datasetBytes(readFileSync(stored.path))), sha(datasetBytes(readFileSync(a))));
  });
});

describe('DIMSE receive under storage limits (integration)', function () {
  this.timeout(60000);

  it('answers 0xA700 below the free-space watermark and writes no file', async () => {
    const node = await startTestNode({ sources: [{ aeTitle: 'STORESCU' }], storage: { freeSpaceWatermarkMb: 1e12 } });
    const work = tempDir('npcai-wm-');
    try {
      const study = writeMrStudy(work.dir, { slices: 1, name: 'wm' });
      const r = await storescu(node.dimsePort, [study.files[0]!], { extra: ['-d'] });
      assert.match(r.output, /DIMSE Status\s*:\s*0xa700/i, r.output.slice(-1500));
      assert.deepEqual(listFiles(path.join(node.dataDir, 'instances')), []);
      assert.deepEqual(listFiles(path.join(node.dataDir, 'spool')), []);
    } finally {
      await node.cleanup();
      work.cleanup();
    }
  });

  it('replaces the stored object when conflictPolicy is replace', async () => {
    const node = await startTestNode({ sources: [{ aeTitle: 'STORESCU' }], storage: { conflictPolicy: 'replace' } });
    const work = tempDir('npcai-rp-');
    try {
      const spec = {
        studyUid: deterministicUid('rp-study'),
        seriesUid: deterministicUid('rp-series'),
        sopUid: deterministicUid('rp-sop'),
        seriesNumber: 1,
        instanceNumber: 1,
        seriesDescription: 'AX T2',
        sopClassUid: SopClass.MrImageStorage,
      };
      const a = writeMrInstance(path.join(work.dir, 'a.dcm'), spec);
      const b = writeMrInstance(path.join(work.dir, 'b.dcm'), { ...spec, seed: 999 });
      assert.equal((await storescu(node.dimsePort, [a])).code, 0);
      const r = await storescu(node.dimsePort, [b]);
      assert.doesNotMatch(r.output, /Failure|Error/i, r.output);
      const stored = node.instances.getInstance(spec.sopUid)!;
      assert.equal(sha(datasetBytes(readFileSync(stored.path))), sha(datasetBytes(readFileSync(b))));
      assert.ok(readdirSync(path.dirname(stored.path)).some((f) => f.includes('.superseded-')));
    } finally {
      await node.cleanup();
      work.cleanup();
    }
  });
});
