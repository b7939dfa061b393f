/**
 * File modes, checked with fs.stat under umask 0 (so the node sets them, not the environment): the data
 * directory 0700, the database (and its -wal/-shm) and the admin token 0600, the audit directory 0700 and
 * its files 0600, result files 0640. An existing data directory and token file are tightened at start.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load';
import { startNode, type NodeHandle } from '../../../src/node';
import { silentLogger } from '../../../src/logging/logger';
import { writeResultObjects } from '../../../src/deliver/outbox';
import { deterministicUid } from '../../../src/dicom/uids';
import { tempDir } from '../../helpers/temp-dir';
import { waitFor } from '../../helpers/wait-for';

const mode = (p: string) => statSync(p).mode & 0o777;

describe('file modes of the data directory', function () {
  this.timeout(60_000);
  let node: NodeHandle | undefined;
  let work: ReturnType<typeof tempDir>;
  let umask: number;
  beforeEach(() => {
    work = tempDir('npcai-modes-');
    umask = process.umask(0);
  });
  afterEach(async () => {
    process.umask(umask);
    await node?.stop();
    node = undefined;
    work.cleanup();
  });

  const start = async (dataDir: string) => {
    const models = path.join(work.dir, 'models-empty');
    mkdirSync(models, { recursive: true });
    const config = loadConfig({
      env: {},
      overrides: { dataDir, dimse: { port: 0, host: '127.0.0.1' }, http: { port: 0, host: '127.0.0.1' }, storage: { freeSpaceWatermarkMb: 0 }, models: { dir: models, executionProviders: ['cpu'] } },
    });
    return startNode(config, { logger: silentLogger() });
  };

  it('creates the data directory 0700, database and generated token 0600, audit files 0600 and results 0640', async () => {
    const dataDir = path.join(work.dir, 'data');
    node = await start(dataDir);
    assert.equal(mode(dataDir), 0o700);
    for (const f of ['node.sqlite', 'node.sqlite-wal', 'node.sqlite-shm', 'admin-token']) {
      assert.ok(existsSync(path.join(dataDir, f)), f);
      assert.equal(mode(path.join(dataDir, f)), 0o600, f);
    }
    node.audit.record('config-change', { subject: 'file-modes-test' });
    const auditDir = path.join(dataDir, 'audit');
    assert.equal(mode(auditDir), 0o700);
    const file = await waitFor(() => readdirSync(auditDir).find((f) => f.endsWith('.jsonl')), 'the audit file');
    assert.equal(mode(path.join(auditDir, file)), 0o600);

    const study = deterministicUid('modes-study');
    const [written] = await writeResultObjects(dataDir, study, [{ sopInstanceUid: deterministicUid('modes-sr'), sopClassUid: '1.2.840.10008.5.1.4.1.1.88.34', data: Buffer.from('DICM') }]);
    assert.equal(mode(path.join(dataDir, written!.path)), 0o640);
    assert.equal(mode(path.join(dataDir, 'results', study)), 0o750);
  });

  it('tightens an existing data directory and token file', async () => {
    const dataDir = path.join(work.dir, 'old');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    writeFileSync(path.join(dataDir, 'admin-token'), 'an-old-token-of-enough-length\n', { mode: 0o644 });
    node = await start(dataDir);
    assert.equal(mode(dataDir), 0o700);
    assert.equal(mode(path.join(dataDir, 'admin-token')), 0o600);
    assert.equal(node.adminToken, 'an-old-token-of-enough-length');
  });
});
