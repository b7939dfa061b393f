import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, ConfigError } from '../../../src/config/load';
import { tempDir } from '../../helpers/temp-dir';

describe('config loading', () => {
  it('loads the shipped defaults with the operator contract values', () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.dimse.port, 11112);
    assert.equal(c.http.host, '127.0.0.1');
    assert.equal(c.http.port, 8080);
    assert.equal(c.dataDir, './data');
    assert.deepEqual(c.localAeTitles.map((a) => a.aeTitle), ['NPCAI']);
    assert.equal(c.localAeTitles[0]!.completion.quietSeconds, 20);
    assert.equal(c.localAeTitles[0]!.completion.forceCompleteSeconds, 600);
    assert.equal(c.dimse.allowUnknownSources, false);
    assert.equal(c.storage.fsync, true);
  });

  it('lets NPC_* environment variables override the file', () => {
    const c = loadConfig({
      env: { NPC_DIMSE_PORT: '104', NPC_HTTP_PORT: '9000', NPC_HTTP_HOST: '0.0.0.0', NPC_DATA_DIR: '/srv/npc', NPC_EXECUTION_PROVIDERS: 'cpu', NPC_LOG_LEVEL: 'debug', NPC_ADMIN_TOKEN: 'x'.repeat(20) },
    });
    assert.equal(c.dimse.port, 104);
    assert.equal(c.http.port, 9000);
    assert.equal(c.http.host, '0.0.0.0');
    assert.equal(c.dataDir, '/srv/npc');
    assert.deepEqual(c.models.executionProviders, ['cpu']);
    assert.equal(c.logging.level, 'debug');
    assert.equal(c.http.adminToken, 'x'.repeat(20));
  });

  it('merges NPC_CONFIG over the defaults, keeping unspecified defaults', () => {
    const t = tempDir();
    try {
      const f = path.join(t.dir, 'site.json');
      writeFileSync(f, JSON.stringify({ dimse: { maxAssociations: 4 }, sources: [{ aeTitle: 'PACS1', host: '10.0.0.5', port: 104 }] }));
      const c = loadConfig({ env: { NPC_CONFIG: f } });
      assert.equal(c.dimse.maxAssociations, 4);
      assert.equal(c.dimse.port, 11112);
      assert.deepEqual(c.sources, [{ aeTitle: 'PACS1', host: '10.0.0.5', port: 104 }]);
    } finally {
      t.cleanup();
    }
  });

  it('reports every problem at once and refuses the config', () => {
    let err: unknown;
    try {
      loadConfig({
        env: { NPC_DIMSE_PORT: 'eleven', NPC_EXECUTION_PROVIDERS: 'tpu' },
        overrides: {
          dimse: { maxAssociations: 0 },
          localAeTitles: [{ aeTitle: 'NPCAI', destinations: ['nowhere'] }],
          sources: [{ aeTitle: 'THIS_AE_TITLE_IS_TOO_LONG' }],
          bogus: true,
        },
      });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof ConfigError, 'a ConfigError is thrown');
    const paths = err.issues.map((i) => i.path);
    assert.ok(paths.includes('NPC_DIMSE_PORT'), paths.join(','));
    assert.ok(paths.some((p) => p.startsWith('models.executionProviders')), paths.join(','));
    assert.ok(paths.includes('dimse.maxAssociations'), paths.join(','));
    assert.ok(paths.some((p) => p.startsWith('sources.0.aeTitle')), paths.join(','));
    assert.ok(err.issues.some((i) => /bogus/.test(i.message) || i.path === 'bogus'), 'unknown keys are reported');
  });

  it('refuses a destination reference that does not exist', () => {
    assert.throws(
      () => loadConfig({ env: {}, overrides: { localAeTitles: [{ aeTitle: 'NPCAI', destinations: ['pacs9'] }] } }),
      (e: unknown) => e instanceof ConfigError && e.issues.some((i) => /unknown destination/.test(i.message)),
    );
  });

  it('priors: defaults, a source that is no destination refused, lookbackDays bounded, retrieve on DIMSE destinations', () => {
    const c = loadConfig({ env: {} });
    assert.deepEqual(c.localAeTitles[0]!.priors, { from: [], lookbackDays: 1825, deadlineSeconds: 600, analyse: false });
    assert.throws(
      () => loadConfig({ env: {}, overrides: { localAeTitles: [{ aeTitle: 'NPCAI', priors: { from: ['pacs9'] } }] } }),
      (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.path === 'localAeTitles.0.priors.from.0' && /unknown destination "pacs9"/.test(i.message)),
    );
    for (const lookbackDays of [0, 36501, 1.5]) {
      assert.throws(() => loadConfig({ env: {}, overrides: { localAeTitles: [{ aeTitle: 'NPCAI', priors: { lookbackDays } }] } }), ConfigError, String(lookbackDays));
    }
    const pacs = { name: 'pacs', type: 'dimse', aeTitle: 'PACS', host: '127.0.0.1', port: 104 };
    const ok = loadConfig({ env: {}, overrides: { destinations: [pacs, { ...pacs, name: 'pacs-get', retrieve: 'c-get' }], localAeTitles: [{ aeTitle: 'NPCAI', priors: { from: ['pacs', 'pacs-get'] } }] } });
    assert.deepEqual(ok.destinations.map((d) => (d.type === 'dimse' ? (d.retrieve ?? 'c-move') : undefined)), ['c-move', 'c-get'], 'c-move unless set');
    assert.throws(() => loadConfig({ env: {}, overrides: { destinations: [{ ...pacs, retrieve: 'wado' }] } }), ConfigError);
  });

  it('refuses keys nothing reads (retention, audit file, prior-study Q/R come back with their behaviour)', () => {
    for (const overrides of [{ storage: { retentionDays: 30 } }, { logging: { auditFile: '/var/log/npc-audit.log' } }, { priorStudies: { queryRetrieve: ['PACS'] } }]) {
      assert.throws(
        () => loadConfig({ env: {}, overrides }),
        (e: unknown) => e instanceof ConfigError && e.issues.length > 0,
        JSON.stringify(overrides),
      );
    }
  });

  it('never accepts the deflated transfer syntax', () => {
    assert.throws(
      () => loadConfig({ env: {}, overrides: { dimse: { transferSyntaxes: ['1.2.840.10008.1.2.1.99'] } } }),
      (e: unknown) => e instanceof ConfigError && e.issues.some((i) => /deflated/.test(i.message)),
    );
  });
});
