/**
 * The audit trail: one node run produces every event type (associations accepted and refused, a study
 * received, completed, analysed, delivered and failed to deliver, a configuration change, token use, an
 * access refusal, an authentication failure, a retention purge); GET /api/v1/audit filters them; and the
 * audit files hold no patient name (in UTF-8 or in the GB18030 bytes it arrived in), ID or birth date.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import iconv from 'iconv-lite';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';
import { echoscu, storescu } from '../../helpers/dicom-peers';
import { freePort } from '../../helpers/node-process';
import { chineseName, writeMrStudy } from '../../helpers/mr-fixture';
import { waitFor } from '../../helpers/wait-for';
import { AUDIT_EVENT_TYPES, type AuditEntry } from '../../../src/audit/audit-log';
import { deterministicUid } from '../../../src/dicom/uids';

const FIXTURE_MODELS = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'models');
const PATIENT_ID = 'PIDAUDIT77';
const BIRTH_DATE = '19561103';

async function waitForPort(port: number): Promise<void> {
  const net = await import('node:net');
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

describe('audit trail', function () {
  this.timeout(240_000);
  let node: TestNode;
  let work: ReturnType<typeof tempDir>;
  let scp: ChildProcess | undefined;
  beforeEach(() => (work = tempDir('npcai-audit-')));
  afterEach(async () => {
    scp?.kill('SIGTERM');
    await node?.cleanup();
    work.cleanup();
  });

  it('records every event type, serves them filtered, and never holds a patient name, ID or birth date', async () => {
    const scpPort = await freePort();
    const deadPort = await freePort();
    const out = path.join(work.dir, 'scp');
    mkdirSync(out);
    scp = spawn('storescp', ['-od', out, '+xa', '-aet', 'STORESCP', String(scpPort)], { stdio: 'ignore' });
    await waitForPort(scpPort);
    node = await startTestNode({
      models: { dir: FIXTURE_MODELS },
      sources: [{ aeTitle: 'MODALITY' }],
      destinations: [
        { name: 'good', type: 'dimse', aeTitle: 'STORESCP', host: '127.0.0.1', port: scpPort },
        { name: 'bad', type: 'dimse', aeTitle: 'NOBODY', host: '127.0.0.1', port: deadPort },
      ],
      localAeTitles: [{ aeTitle: 'NPCAI', destinations: ['good', 'bad'], completion: { quietSeconds: 1, forceCompleteSeconds: 3 } }],
      delivery: { maxAttempts: 1, initialBackoffSeconds: 0, responseTimeoutSeconds: 5 },
    });

    // A study whose PatientName is Chinese in GB18030, with a distinctive PatientID and birth date.
    const name = chineseName('GB18030');
    const study = writeMrStudy(work.dir, {
      slices: 3,
      rows: 128,
      columns: 128,
      name: 'audit',
      patch: (s) => ({ ...s, specificCharacterSet: name.specificCharacterSet, patientNameBytes: name.patientNameBytes, overrides: { '00100020': ['LO', PATIENT_ID], '00100030': ['DA', BIRTH_DATE] } }),
    });
    const sent = await storescu(node.dimsePort, study.files, { aet: 'MODALITY' });
    assert.equal(sent.code, 0, sent.output);
    assert.deepEqual(node.instances.listStudyInstances(study.studyUid)[0]!.header.PatientName, [name.expected], 'the name arrived and was decoded');
    const refused = await echoscu(node.dimsePort, { aet: 'STRANGER' });
    assert.notEqual(refused.code, 0);

    // API events: a configuration change, token use, a refusal for the wrong role, an authentication failure.
    const created = (await (await node.api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: 'prom', role: 'metrics' }) })).json()) as { token: string };
    assert.equal((await node.api('/api/v1/studies', { headers: { authorization: `Bearer ${created.token}` } })).status, 403);
    assert.equal((await fetch(`http://127.0.0.1:${node.httpPort}/api/v1/jobs`)).status, 401);
    assert.equal((await node.api(`/api/v1/patients/${PATIENT_ID}/clinical`, { method: 'PUT', body: JSON.stringify({ nStage: 'N1' }) })).status < 500, true);

    // An analysis that fails (a job whose payload names no stored study).
    const failing = deterministicUid('audit-no-such-study');
    node.jobs.createAnalysisJob({ studyInstanceUid: failing, calledAeTitle: 'NPCAI', generation: 0, parentJobId: null, payload: { bogus: true } });
    node.analysisWorker.kick();

    // The retention helper's API (the PatientID it is given by mistake is dropped).
    node.audit.record('retention-purge', { studyInstanceUid: study.studyUid, accessionNumber: 'ACC0001', freedBytes: 1234, PatientID: PATIENT_ID });

    const entries = await waitFor(
      () => {
        const all = node.audit.query({ limit: 10000 });
        const types = new Set(all.map((e) => e.type));
        return AUDIT_EVENT_TYPES.every((t) => types.has(t)) ? all : undefined;
      },
      'every audit event type',
      180_000,
      500,
    ).catch((e) => {
      const have = new Set(node.audit.query({ limit: 10000 }).map((x) => x.type));
      throw new Error(`${(e as Error).message}; missing: ${AUDIT_EVENT_TYPES.filter((t) => !have.has(t)).join(', ')}`);
    });

    const one = (type: string, pred: (e: AuditEntry) => boolean = () => true) => {
      const e = entries.find((x) => x.type === type && pred(x));
      assert.ok(e, `an audit entry ${type}`);
      return e;
    };
    const accepted = one('association-accepted');
    assert.equal(accepted.callingAeTitle, 'MODALITY');
    assert.equal(accepted.calledAeTitle, 'NPCAI');
    assert.match(String(accepted.remoteAddress), /127\.0\.0\.1/);
    const refusal = one('association-refused');
    assert.equal(refusal.callingAeTitle, 'STRANGER');
    assert.equal(refusal.reason, 'calling-ae-not-recognized');
    const received = one('study-received');
    assert.equal(received.studyInstanceUid, study.studyUid);
    assert.equal(received.accessionNumber, 'ACC0001');
    assert.equal(one('study-complete').studyInstanceUid, study.studyUid);
    assert.equal(one('analysis-done').studyInstanceUid, study.studyUid);
    assert.equal(one('analysis-failed').studyInstanceUid, failing);
    assert.equal(one('result-delivered').destination, 'good');
    assert.equal(one('delivery-failed').destination, 'bad');
    const change = one('config-change', (e) => e.route === '/api/v1/tokens');
    assert.deepEqual(change.actor, { name: 'admin', role: 'admin' });
    assert.equal(change.subject, 'prom');
    assert.deepEqual(one('access-denied').actor, { name: 'prom', role: 'metrics' });
    assert.equal(one('auth-failure').route, '/api/v1/jobs');
    assert.equal(one('retention-purge').freedBytes, 1234);
    const clinical = entries.find((e) => e.type === 'token-use' && e.route === '/api/v1/patients/{patientId}/clinical');
    assert.ok(clinical, 'the clinical PUT is audited by its route template');

    // Nothing in the files names the patient: name in UTF-8 and in its GB18030 bytes, ID, birth date.
    const dir = path.join(node.dataDir, 'audit');
    const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^audit-\d{4}-\d{2}-\d{2}\.jsonl$/);
    assert.equal(statSync(path.join(dir, files[0]!)).mode & 0o777, 0o600);
    const bytes = Buffer.concat(files.map((f) => readFileSync(path.join(dir, f))));
    const forbidden: [string, Buffer][] = [
      ['ideographic name (UTF-8)', Buffer.from('张^小东', 'utf8')],
      ['family name (UTF-8)', Buffer.from('张', 'utf8')],
      ['ideographic name (GB18030)', iconv.encode('张^小东', 'gb18030')],
      ['given name (GB18030)', iconv.encode('小东', 'gb18030')],
      ['alphabetic name', Buffer.from('XiaoDong')],
      ['PatientID', Buffer.from(PATIENT_ID)],
      ['birth date', Buffer.from(BIRTH_DATE)],
    ];
    for (const [what, b] of forbidden) assert.equal(bytes.indexOf(b), -1, `the audit trail holds the ${what}`);
    for (const line of bytes.toString('utf8').trim().split('\n')) JSON.parse(line);

    // GET /api/v1/audit: filters, limits, newest first; 400 for a bad filter; operators may read it, metrics may not.
    const op = (await (await node.api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: 'op', role: 'operator' }) })).json()) as { token: string };
    const get = (q: string, token?: string) => node.api(`/api/v1/audit${q}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    let r = await get('?type=association-refused', op.token);
    assert.equal(r.status, 200);
    const refusedOnly = (await r.json()) as AuditEntry[];
    assert.ok(refusedOnly.length >= 1 && refusedOnly.every((e) => e.type === 'association-refused'));
    r = await get('?limit=2');
    const two = (await r.json()) as AuditEntry[];
    assert.equal(two.length, 2);
    assert.ok(two[0]!.time >= two[1]!.time, 'newest first');
    r = await get(`?since=${encodeURIComponent(new Date(Date.now() + 3600_000).toISOString())}`);
    assert.deepEqual(await r.json(), []);
    r = await get('?type=nonsense');
    assert.equal(r.status, 400);
    assert.match(await r.text(), /type/);
    r = await get('?since=yesterday');
    assert.equal(r.status, 400);
    assert.match(await r.text(), /ISO 8601/);
    assert.equal((await get('', created.token)).status, 403);
  });
});
