/** POST /api/v1/maintenance/retention, the free-space gauges in /metrics and the storage state in /healthz. */
import assert from 'node:assert/strict';
import { startTestNode, type TestNode } from '../../helpers/test-node';

describe('retention endpoint and free-space reporting (integration)', function () {
  this.timeout(60_000);
  let node: TestNode;
  before(async () => {
    node = await startTestNode({ storage: { freeSpaceWatermarkMb: 1 }, retention: { receivedHours: 0.5, resultsHours: 24, schedule: '*/5 * * * *' } });
  });
  after(async () => node?.cleanup());

  it('runs retention now and answers what it purged, kept and freed', async () => {
    const res = await node.api('/api/v1/maintenance/retention', { method: 'POST' });
    assert.equal(res.status, 200);
    const r = (await res.json()) as { received: { hours: number; purged: unknown[]; kept: unknown[] }; results: { hours: number }; bytesFreed: number; freeSpace: { state: string; freeBytes: number } };
    assert.deepEqual([r.received.hours, r.results.hours, r.received.purged, r.received.kept, r.bytesFreed], [0.5, 24, [], [], 0]);
    assert.equal(r.freeSpace.state, 'ok');
    assert.ok(r.freeSpace.freeBytes > 0);
  });

  it('needs the token', async () => {
    const res = await fetch(`http://127.0.0.1:${node.httpPort}/api/v1/maintenance/retention`, { method: 'POST' });
    assert.equal(res.status, 401);
  });

  it('shows free space in /metrics and /healthz', async () => {
    const m = await (await node.api('/metrics')).text();
    assert.match(m, /^npcai_storage_free_bytes \d+/m);
    assert.match(m, /^npcai_storage_free_space_state\{state="ok"\} 1$/m);
    assert.match(m, /^npcai_storage_free_space_state\{state="warning"\} 0$/m);
    const h = (await (await fetch(`http://127.0.0.1:${node.httpPort}/healthz`)).json()) as { status: string; storage: { state: string; warnBelowBytes: number } };
    assert.equal(h.status, 'ok');
    assert.deepEqual([h.storage.state, h.storage.warnBelowBytes], ['ok', 2 * 1024 * 1024]);
  });
});
