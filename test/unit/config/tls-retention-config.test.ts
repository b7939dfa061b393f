/** The retention and TLS keys of the configuration: defaults, NPC_* variables, and the checks that refuse startup. */
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../../src/config/load';

const load = (overrides: unknown = {}, env: NodeJS.ProcessEnv = {}) => loadConfig({ env, overrides });

describe('retention and TLS configuration', () => {
  it('ships 7 days received, 30 days results, hourly, and no TLS', () => {
    const c = load();
    assert.deepEqual(c.retention, { receivedHours: 168, resultsHours: 720, schedule: '0 * * * *', freeSpaceWarningFactor: 2 });
    assert.equal(c.dimse.tls, undefined);
    assert.equal(c.http.tls, undefined);
  });

  it('takes fractions of an hour and the NPC_* variables', () => {
    const c = load({}, {
      NPC_RETENTION_RECEIVED_HOURS: '0.25',
      NPC_RETENTION_RESULTS_HOURS: '0',
      NPC_RETENTION_SCHEDULE: '*/10 * * * * *',
      NPC_DIMSE_TLS_PORT: '2762',
      NPC_DIMSE_TLS_CERT_FILE: '/etc/npc/node.pem',
      NPC_DIMSE_TLS_KEY_FILE: '/etc/npc/node.key',
      NPC_DIMSE_TLS_CA_FILE: '/etc/npc/ca.pem',
      NPC_HTTP_TLS_CERT_FILE: '/etc/npc/web.pem',
      NPC_HTTP_TLS_KEY_FILE: '/etc/npc/web.key',
    });
    assert.deepEqual([c.retention.receivedHours, c.retention.resultsHours, c.retention.schedule], [0.25, 0, '*/10 * * * * *']);
    assert.deepEqual(c.dimse.tls, { port: 2762, certFile: '/etc/npc/node.pem', keyFile: '/etc/npc/node.key', caFile: '/etc/npc/ca.pem', requireClientCertificate: false });
    assert.deepEqual(c.http.tls, { certFile: '/etc/npc/web.pem', keyFile: '/etc/npc/web.key' });
  });

  it('refuses a bad schedule, negative hours, a client certificate requirement without a CA and half a client key pair', () => {
    const issues = (o: unknown, env: NodeJS.ProcessEnv = {}) => {
      try {
        load(o, env);
        return '';
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        return e.message;
      }
    };
    assert.match(issues({ retention: { schedule: 'every hour' } }), /retention\.schedule: not a cron expression/);
    assert.match(issues({ retention: { receivedHours: -1 } }), /retention\.receivedHours/);
    assert.match(issues({}, { NPC_RETENTION_RESULTS_HOURS: 'soon' }), /NPC_RETENTION_RESULTS_HOURS: must be a number of hours/);
    assert.match(issues({ dimse: { tls: { certFile: 'a', keyFile: 'b', requireClientCertificate: true } } }), /dimse\.tls\.caFile: requireClientCertificate needs/);
    assert.match(
      issues({ destinations: [{ name: 'p', type: 'dimse', aeTitle: 'P', host: 'h', port: 104, tls: { certFile: 'c.pem' } }] }),
      /destinations\.0\.tls: certFile and keyFile go together/,
    );
    assert.match(issues({ destinations: [{ name: 'p', type: 'dimse', aeTitle: 'P', host: 'h', port: 104, tls: { verify: false } }] }), /destinations\.0\.tls/);
  });
});
