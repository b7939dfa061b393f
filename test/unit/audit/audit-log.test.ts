import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { AuditLog, withoutPatientFields } from '../../../src/audit/audit-log';
import { tempDir } from '../../helpers/temp-dir';

describe('audit log', () => {
  it('drops patient identity fields at any depth', () => {
    assert.deepEqual(
      withoutPatientFields({ studyInstanceUid: '1.2', PatientID: 'P1', nested: { patientName: 'X', PatientBirthDate: '19700101', ok: 1 }, list: [{ header: { PatientName: 'Y' }, a: 2 }] }),
      { studyInstanceUid: '1.2', nested: { ok: 1 }, list: [{ a: 2 }] },
    );
  });

  it('writes one JSON line per entry into the UTC day file and answers queries newest first, filtered', async () => {
    const t = tempDir('npcai-audit-unit-');
    try {
      const log = new AuditLog({ dataDir: t.dir, retentionDays: 30 });
      log.record('auth-failure', { reason: 'no token' });
      log.record('config-change', { subject: 'pacs1', PatientID: 'SECRET' });
      await log.close();
      const files = readdirSync(path.join(t.dir, 'audit')).filter((f) => f.endsWith('.jsonl'));
      assert.deepEqual(files, [`audit-${new Date().toISOString().slice(0, 10)}.jsonl`]);
      const lines = readFileSync(path.join(t.dir, 'audit', files[0]!), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines.map((l) => l.type), ['auth-failure', 'config-change']);
      assert.ok(!readFileSync(path.join(t.dir, 'audit', files[0]!), 'utf8').includes('SECRET'));
      assert.deepEqual(log.query().map((e) => e.type), ['config-change', 'auth-failure']);
      assert.deepEqual(log.query({ type: 'auth-failure' }).map((e) => e.reason), ['no token']);
      assert.equal(log.query({ limit: 1 }).length, 1);
      assert.deepEqual(log.query({ since: new Date(Date.now() + 60_000).toISOString() }), []);
    } finally {
      t.cleanup();
    }
  });
});
