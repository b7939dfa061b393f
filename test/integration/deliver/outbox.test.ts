/**
 * The outbox in a running node, with Orthanc as the PACS: results go out by C-STORE and STOW-RS, survive
 * outages and restarts, end up in the PACS exactly once, and one destination's outage holds back no other.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { writeResultObjects, type DeliveryJob, type DeliveryJobState, type Outbox } from '../../../src/deliver/outbox';
import { startTestNode, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';
import { makeSecondaryCapture } from '../../helpers/secondary-capture';
import { freePort, orthancFindInstance, orthancGetTags, orthancListInstances, startOrthanc, type Orthanc } from '../../helpers/orthanc';

const FAST_RETRIES = { maxAttempts: 20, initialBackoffSeconds: 0.1, maxBackoffSeconds: 1, responseTimeoutSeconds: 5 };

function nodeConfig(destinations: unknown[], delivery: Record<string, unknown> = FAST_RETRIES) {
  return {
    localAeTitles: [{ aeTitle: 'NPCAI', destinations: destinations.map((d) => (d as { name: string }).name) }],
    destinations,
    delivery,
  };
}
const dimse = (name: string, o: { aeTitle: string; dicomPort: number }) => ({ name, type: 'dimse', aeTitle: o.aeTitle, host: '127.0.0.1', port: o.dicomPort });
const web = (name: string, url: string) => ({ name, type: 'dicomweb', url });

/** Writes `count` SC objects of one new study as results and queues them. */
async function queueResults(node: TestNode, count = 2) {
  const study = makeSecondaryCapture().studyInstanceUid;
  const objs = Array.from({ length: count }, (_, i) => makeSecondaryCapture({ studyInstanceUid: study, instanceNumber: i + 1, seed: i + 1 }));
  const files = await writeResultObjects(node.dataDir, study, objs.map((o) => ({ sopInstanceUid: o.sopInstanceUid, sopClassUid: o.sopClassUid, data: o.data })));
  const { jobs } = node.outbox.enqueue({ studyInstanceUid: study, calledAeTitle: 'NPCAI', callingAeTitle: 'MODALITY', files });
  return { study, objs, jobs };
}

async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const waitForState = (outbox: Outbox, id: number, states: DeliveryJobState[], timeoutMs?: number) =>
  waitFor<DeliveryJob>(`job ${id} to be ${states.join('|')}`, () => {
    const j = outbox.get(id);
    return j && states.includes(j.state) ? j : undefined;
  }, timeoutMs);

describe('delivery outbox with Orthanc as the PACS', function () {
  this.timeout(90_000);
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const orthanc = async (opts: Parameters<typeof startOrthanc>[0] = {}) => {
    const o = await startOrthanc(opts);
    cleanups.push(() => o.cleanup());
    return o;
  };
  const node = async (overrides: unknown, dataDir?: string) => {
    const n = await startTestNode(overrides, dataDir ? { dataDir } : {});
    cleanups.push(() => n.stop());
    return n;
  };

  it('returns results to one PACS by C-STORE and to another by STOW-RS, each readable there', async () => {
    const a = await orthanc({ aeTitle: 'PACSA' });
    const b = await orthanc({ aeTitle: 'PACSB' });
    const n = await node(nodeConfig([dimse('pacs-a', a), web('pacs-b', b.dicomWebUrl)]));
    const { study, objs, jobs } = await queueResults(n);
    assert.deepEqual(jobs.map((j) => [j.destination, j.state]), [['pacs-a', 'queued'], ['pacs-b', 'queued']]);
    for (const j of jobs) {
      const done = await waitForState(n.outbox, j.id, ['done', 'dead', 'failed']);
      assert.equal(done.state, 'done', done.error ?? '');
      assert.deepEqual(done.files.map((f) => f.state), ['sent', 'sent']);
      assert.equal(done.attempts, 1);
    }
    for (const pacs of [a, b]) {
      const stored = await orthancListInstances(pacs, study);
      assert.deepEqual(stored.map((s) => s.sopInstanceUid).sort(), objs.map((o) => o.sopInstanceUid).sort());
      const tags = await orthancGetTags(pacs, stored[0]!.id);
      assert.equal(tags.PatientName, '王^伟');
      assert.equal(tags.StudyInstanceUID, study);
    }
  });

  it('retries while the PACS is down, and after it returns the results arrive exactly once, across a node restart', async () => {
    const httpPort = await freePort();
    const dicomPort = await freePort();
    const pacs = await orthanc({ aeTitle: 'PACSA', httpPort, dicomPort, deferStart: true });
    const data = tempDir('npcai-outbox-');
    cleanups.push(() => data.cleanup());
    const config = nodeConfig([dimse('pacs', pacs)]);
    const first = await startTestNode(config, { dataDir: data.dir });
    const { study, objs, jobs } = await queueResults(first, 3);
    const id = jobs[0]!.id;

    // Several failed attempts, spaced by a growing backoff.
    const failing = await waitFor('three failed attempts', () => {
      const j = first.outbox.get(id);
      return j && j.attempts >= 3 ? j : undefined;
    });
    assert.notEqual(failing.state, 'done');
    assert.match(failing.error ?? '', /ECONNREFUSED/);
    const attempts = failing.history.filter((h) => h.event === 'attempt');
    assert.ok(attempts.length >= 3);
    const gaps = attempts.slice(1).map((h, i) => Date.parse(h.at) - Date.parse(attempts[i]!.at));
    assert.ok(gaps.every((g) => g >= 45), `attempts are spaced by the backoff (gaps ${gaps.join(', ')} ms)`);

    // The node stops in the middle of the outage; nothing is lost.
    await first.stop();
    const row = (await import('better-sqlite3')).default;
    const db = new row(`${data.dir}/node.sqlite`, { readonly: true });
    const persisted = db.prepare('SELECT state, attempts FROM jobs WHERE id = ?').get(id) as { state: string; attempts: number };
    db.close();
    assert.ok(['queued', 'running'].includes(persisted.state), `persisted state ${persisted.state}`);

    await pacs.start();
    const second = await node(config, data.dir);
    const done = await waitForState(second.outbox, id, ['done', 'dead', 'failed']);
    assert.equal(done.state, 'done', done.error ?? '');
    assert.ok(done.history.some((h) => h.event === 'attempt' && h.failed === 3), 'failed attempts are in the history');

    const stored = await orthancListInstances(pacs, study);
    assert.equal(stored.length, 3, 'each result exactly once');
    assert.deepEqual(stored.map((s) => s.sopInstanceUid).sort(), objs.map((o) => o.sopInstanceUid).sort());
    // Nothing further is sent once done.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(second.outbox.get(id)!.attempts, done.attempts);
    assert.equal((await orthancListInstances(pacs, study)).length, 3);
  });

  it('re-queues a job the node left running and does not duplicate what the PACS already has', async () => {
    const pacs = await orthanc({ aeTitle: 'PACSA' });
    const data = tempDir('npcai-outbox-');
    cleanups.push(() => data.cleanup());
    const config = nodeConfig([dimse('pacs', pacs)]);
    const first = await startTestNode(config, { dataDir: data.dir });
    const { study, jobs } = await queueResults(first, 2);
    await waitForState(first.outbox, jobs[0]!.id, ['done']);
    await first.stop();
    // Simulate a crash after the PACS stored the objects but before the outcome was recorded.
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(`${data.dir}/node.sqlite`);
    db.prepare("UPDATE jobs SET state = 'running', payload_json = replace(payload_json, '\"state\":\"sent\"', '\"state\":\"pending\"') WHERE id = ?").run(jobs[0]!.id);
    db.close();

    const second = await node(config, data.dir);
    const again = await waitForState(second.outbox, jobs[0]!.id, ['done', 'dead', 'failed']);
    assert.equal(again.state, 'done');
    assert.ok(again.history.some((h) => h.event === 'requeued'));
    assert.equal((await orthancListInstances(pacs, study)).length, 2, 'Orthanc keeps one copy of each re-sent instance');
  });

  it('gives up after maxAttempts (dead, visible in the jobs table) and delivers on retry()', async () => {
    const dicomPort = await freePort();
    const pacs = await orthanc({ aeTitle: 'PACSA', dicomPort, deferStart: true });
    const n = await node(nodeConfig([dimse('pacs', pacs)], { ...FAST_RETRIES, maxAttempts: 2 }));
    const { objs, jobs } = await queueResults(n, 1);
    const id = jobs[0]!.id;
    const dead = await waitForState(n.outbox, id, ['dead', 'done']);
    assert.equal(dead.state, 'dead');
    assert.equal(dead.attempts, 2);
    const row = n.db.prepare('SELECT kind, state, destination, attempts, error FROM jobs WHERE id = ?').get(id) as Record<string, unknown>;
    assert.deepEqual([row.kind, row.state, row.destination, row.attempts], ['delivery', 'dead', 'pacs', 2]);
    assert.match(String(row.error), /ECONNREFUSED/);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(n.outbox.get(id)!.attempts, 2, 'a dead job is not retried by itself');

    assert.deepEqual(n.outbox.retry(999_999), { ok: false, reason: 'not-found', message: 'no delivery job 999999' });
    await pacs.start();
    const r = n.outbox.retry(id);
    assert.equal(r.ok, true);
    const done = await waitForState(n.outbox, id, ['done', 'dead']);
    assert.equal(done.state, 'done');
    assert.ok(done.history.some((h) => h.event === 'retry'));
    assert.ok(await orthancFindInstance(pacs, objs[0]!.sopInstanceUid));
    const again = n.outbox.retry(id);
    assert.equal(again.ok, false);
  });

  it('keeps delivering to a working PACS while another destination hangs without answering', async () => {
    const sockets: net.Socket[] = [];
    const blackhole = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', () => r()));
    const hangPort = (blackhole.address() as net.AddressInfo).port;
    const good = await orthanc({ aeTitle: 'PACSA' });
    const n = await node(nodeConfig([dimse('hangs', { aeTitle: 'HANG', dicomPort: hangPort }), dimse('good', good)], { ...FAST_RETRIES, responseTimeoutSeconds: 30 }));
    // Runs before the node stops, so that its stop does not wait for the hanging send.
    cleanups.push(() => {
      blackhole.close();
      for (const s of sockets) s.destroy();
    });
    const first = await queueResults(n, 1);
    const second = await queueResults(n, 1);
    for (const batch of [first, second]) {
      const goodJob = batch.jobs.find((j) => j.destination === 'good')!;
      assert.equal((await waitForState(n.outbox, goodJob.id, ['done'])).state, 'done');
      assert.ok(await orthancFindInstance(good, batch.objs[0]!.sopInstanceUid));
    }
    const hanging = n.outbox.list({ destination: 'hangs' });
    assert.deepEqual(hanging.map((j) => j.state).sort(), ['queued', 'running'], 'the hanging destination sends one job at a time');
  });

  it('fails a STOW-RS job permanently on 4xx and delivers on retry after the URL is fixed through the API', async () => {
    const pacs = await orthanc({ aeTitle: 'PACSA' });
    const n = await node(nodeConfig([web('web', `${pacs.url}/wrong-root`)]));
    const { study, jobs } = await queueResults(n, 1);
    const failed = await waitForState(n.outbox, jobs[0]!.id, ['failed', 'dead', 'done']);
    assert.equal(failed.state, 'failed');
    assert.equal(failed.attempts, 1, 'a permanent failure is not retried automatically');
    assert.match(failed.error ?? '', /404/);
    const put = await n.api('/api/v1/destinations/web', { method: 'PUT', body: JSON.stringify({ type: 'dicomweb', url: pacs.dicomWebUrl }) });
    assert.equal(put.status, 200);
    assert.equal(n.outbox.retry(jobs[0]!.id).ok, true);
    assert.equal((await waitForState(n.outbox, jobs[0]!.id, ['done', 'failed', 'dead'])).state, 'done');
    assert.equal((await orthancListInstances(pacs, study)).length, 1);
  });

  it('sends results back to the sender when replyToSender is on and the source has a port', async () => {
    const pacs = await orthanc({ aeTitle: 'PACSA' });
    const n = await node({
      localAeTitles: [{ aeTitle: 'NPCAI', destinations: [], replyToSender: true }],
      sources: [{ aeTitle: 'PACSA', host: '127.0.0.1', port: pacs.dicomPort }],
      delivery: FAST_RETRIES,
    });
    const study = makeSecondaryCapture().studyInstanceUid;
    const obj = makeSecondaryCapture({ studyInstanceUid: study });
    const files = await writeResultObjects(n.dataDir, study, [{ sopInstanceUid: obj.sopInstanceUid, sopClassUid: obj.sopClassUid, data: obj.data }]);
    const { jobs } = n.outbox.enqueue({ studyInstanceUid: study, calledAeTitle: 'NPCAI', callingAeTitle: 'PACSA', files });
    assert.deepEqual(jobs.map((j) => j.destination), ['sender:PACSA']);
    assert.equal((await waitForState(n.outbox, jobs[0]!.id, ['done', 'dead', 'failed'])).state, 'done');
    assert.ok(await orthancFindInstance(pacs, obj.sopInstanceUid));
  });
});

// Orthanc type is used in helper signatures above.
export type { Orthanc };
