import assert from 'node:assert/strict';
import { HostResolver } from '../../../src/receive/dimse/host-resolver';

describe('HostResolver (source host names cached with a deadline)', () => {
  it('looks a host up once within its deadline, and shares one lookup between concurrent requests', async () => {
    let t = 0;
    let calls = 0;
    const r = new HostResolver({ ttlMs: 1000, now: () => t, lookup: async () => (calls++, ['10.0.0.1']) });
    assert.deepEqual(await Promise.all([r.resolve('ct'), r.resolve('ct'), r.resolve('ct')]), [['10.0.0.1'], ['10.0.0.1'], ['10.0.0.1']]);
    t = 999;
    assert.deepEqual(await r.resolve('ct'), ['10.0.0.1']);
    assert.equal(calls, 1);
  });

  it('answers the stale addresses at once after the deadline while one refresh runs, then the new ones', async () => {
    let t = 0;
    let answer = ['10.0.0.1'];
    let release: () => void = () => undefined;
    let calls = 0;
    const r = new HostResolver({
      ttlMs: 1000,
      now: () => t,
      lookup: (h) => {
        calls++;
        if (calls === 1) return Promise.resolve(answer);
        return new Promise((res) => (release = () => res(answer)));
      },
    });
    await r.resolve('mr');
    t = 2000;
    answer = ['10.0.0.2'];
    assert.deepEqual(await r.resolve('mr'), ['10.0.0.1'], 'no wait for DNS');
    assert.deepEqual(await r.resolve('mr'), ['10.0.0.1']);
    assert.equal(calls, 2, 'one refresh');
    release();
    await new Promise((res) => setImmediate(res));
    assert.deepEqual(await r.resolve('mr'), ['10.0.0.2']);
  });

  it('gives up on a lookup that hangs or fails (no addresses), and keeps what worked before', async () => {
    let t = 0;
    let mode: 'ok' | 'fail' | 'hang' = 'hang';
    const r = new HostResolver({
      ttlMs: 1000,
      negativeTtlMs: 100,
      timeoutMs: 50,
      now: () => t,
      lookup: () => (mode === 'ok' ? Promise.resolve(['10.0.0.3']) : mode === 'fail' ? Promise.reject(new Error('ENOTFOUND')) : new Promise(() => undefined)),
    });
    const started = Date.now();
    assert.deepEqual(await r.resolve('hung'), []);
    assert.ok(Date.now() - started < 1000);
    mode = 'ok';
    t = 200;
    await r.resolve('hung');
    await new Promise((res) => setImmediate(res));
    assert.deepEqual(await r.resolve('hung'), ['10.0.0.3']);
    mode = 'fail';
    t = 5000;
    await r.resolve('hung');
    await new Promise((res) => setImmediate(res));
    assert.deepEqual(await r.resolve('hung'), ['10.0.0.3'], 'a failed refresh keeps the last good answer');
  });
});
