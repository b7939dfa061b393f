import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { openDatabase, type Db } from '../../../src/store/database';
import { TokenRepository } from '../../../src/store/token-repository';
import { tempDir } from '../../helpers/temp-dir';

describe('TokenRepository', () => {
  let t: ReturnType<typeof tempDir>;
  let db: Db;
  beforeEach(() => {
    t = tempDir('npcai-tokens-');
    db = openDatabase(t.dir);
  });
  afterEach(() => {
    db.close();
    t.cleanup();
  });

  it('stores only the SHA-256, authenticates the token and nothing else, and forgets a deleted one', () => {
    const repo = new TokenRepository(db);
    const { record, token } = repo.create({ name: 'feed', role: 'ingest', sourceAeTitle: 'CT1' });
    assert.equal(record.role, 'ingest');
    const row = db.prepare('SELECT * FROM api_tokens').get() as Record<string, unknown>;
    assert.equal(row.token_sha256, createHash('sha256').update(token).digest('hex'));
    assert.ok(!Object.values(row).includes(token));
    assert.deepEqual(repo.authenticate(token), { name: 'feed', role: 'ingest', sourceAeTitle: 'CT1' });
    assert.equal(repo.authenticate(token.slice(0, -1)), undefined);
    assert.equal(repo.authenticate(''), undefined);
    assert.ok(repo.delete('feed'));
    assert.equal(repo.authenticate(token), undefined);
  });

  it('records last use at most once a minute, and a second repository over the same file sees the tokens', () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const repo = new TokenRepository(db, () => now);
    const { token } = repo.create({ name: 'op', role: 'operator' });
    repo.authenticate(token);
    assert.equal(repo.get('op')!.lastUsedAt, '2026-01-01T00:00:00.000Z');
    now = new Date('2026-01-01T00:00:30Z');
    repo.authenticate(token);
    assert.equal(repo.get('op')!.lastUsedAt, '2026-01-01T00:00:00.000Z');
    now = new Date('2026-01-01T00:01:30Z');
    repo.authenticate(token);
    assert.equal(new TokenRepository(db).get('op')!.lastUsedAt, '2026-01-01T00:01:30.000Z');
    assert.equal(new TokenRepository(db).authenticate(token)?.role, 'operator');
  });
});
