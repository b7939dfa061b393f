/**
 * Roles and tokens: every route of the route table refuses a request without a token (401) and with a token
 * of a role the table does not allow (403, with a message); allowed roles get past authorisation. Tokens
 * are shown once, stored as hashes, revocable, attributed (ingest -> source AE title), and persist across
 * a restart and kill -9.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Express } from 'express';
import { startTestNode, TEST_TOKEN, type TestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';
import { startNodeProcess } from '../../helpers/node-process';
import { storescu } from '../../helpers/dicom-peers';
import { writeMrStudy } from '../../helpers/mr-fixture';
import { waitFor } from '../../helpers/wait-for';
import { ACCESS_ROLES, ROUTES, type RouteSpec } from '../../../src/admin/route-table';
import { ROLES, type Role } from '../../../src/core/roles';
import { deterministicUid } from '../../../src/dicom/uids';

interface Issued {
  name: string;
  role: Role;
  token: string;
}

async function issue(node: TestNode, name: string, role: Role, source?: string): Promise<Issued> {
  const r = await node.api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name, role, ...(source ? { source } : {}) }) });
  assert.equal(r.status, 201, await r.clone().text());
  const body = (await r.json()) as Issued;
  assert.match(body.token, /^npc_[A-Za-z0-9_-]{43}$/);
  return body;
}

const as = (token: string | undefined, init: RequestInit = {}): RequestInit => {
  const headers = new Headers(init.headers);
  headers.set('authorization', token === undefined ? '' : `Bearer ${token}`);
  return { ...init, headers };
};

/** A concrete request for a table route: placeholder parameters that name nothing, bodies that are invalid. */
function sampleRequest(r: RouteSpec): { path: string; init: RequestInit } {
  const p = r.path.replace(/\{([A-Za-z]+)\}/g, (_m, n: string) => (n === 'studyInstanceUid' || n === 'study' ? '1.2.3.999999' : n === 'id' ? '999999' : 'NOSUCH'));
  const init: RequestInit = { method: r.method.toUpperCase() };
  if (r.body) {
    init.body = JSON.stringify({ unexpected: true });
    init.headers = { 'content-type': 'application/json' };
  }
  return { path: p, init };
}

/** Every (method, path) the express app registers, in the table's {param} form. */
function registeredRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: unknown[]) => {
    for (const layer of stack as { route?: { path: string | string[]; methods: Record<string, boolean> }; handle?: { stack?: unknown[] } }[]) {
      if (layer.route) {
        for (const p of Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path]) {
          for (const m of Object.keys(layer.route.methods)) if (m !== '_all') out.push(`${m} ${p.replace(/:([A-Za-z]+)/g, '{$1}')}`);
        }
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((app as unknown as { router: { stack: unknown[] } }).router.stack);
  return out;
}

describe('admin API roles and tokens', function () {
  this.timeout(120_000);
  let node: TestNode;
  let work: ReturnType<typeof tempDir>;
  beforeEach(() => (work = tempDir('npcai-roles-')));
  afterEach(async () => {
    await node?.cleanup();
    work.cleanup();
  });

  it('lists every registered route in the route table, and the table only routes that exist', async () => {
    node = await startTestNode();
    const registered = new Set(registeredRoutes(node.httpApp));
    const table = new Set(ROUTES.map((r) => `${r.method} ${r.path}`));
    assert.deepEqual([...registered].filter((r) => !table.has(r)), [], 'routes without a table entry');
    assert.deepEqual([...table].filter((r) => !registered.has(r)), [], 'table entries without a route');
  });

  it('answers 401 without a token, 403 for a wrong role and lets each allowed role through, on every route', async () => {
    node = await startTestNode({ sources: [{ aeTitle: 'MODALITY1' }] });
    const tokens: Record<Role, string> = {
      admin: TEST_TOKEN,
      operator: (await issue(node, 'op1', 'operator')).token,
      ingest: (await issue(node, 'ing1', 'ingest', 'MODALITY1')).token,
      metrics: (await issue(node, 'prom', 'metrics')).token,
    };
    const problems: string[] = [];
    for (const r of ROUTES) {
      const { path: p, init } = sampleRequest(r);
      const label = `${r.method.toUpperCase()} ${r.path}`;
      if (r.access === 'public') {
        const res = await node.api(p, as(undefined, init));
        if (res.status === 401 || res.status === 403) problems.push(`${label}: public route answered ${res.status}`);
        continue;
      }
      for (const auth of [undefined, 'Bearer', 'npc_not-a-token']) {
        const res = await node.api(p, as(auth === 'Bearer' ? '' : auth, init));
        const body = (await res.json().catch(() => ({}))) as { error?: string };
        if (res.status !== 401) problems.push(`${label} with ${auth ?? 'no token'}: ${res.status}, expected 401`);
        else if (!body.error || !/token/.test(body.error)) problems.push(`${label}: 401 without a message`);
      }
      for (const role of ROLES) {
        const allowed = ACCESS_ROLES[r.access].includes(role);
        const res = await node.api(p, as(tokens[role], init));
        const text = await res.text();
        if (!allowed) {
          if (res.status !== 403) problems.push(`${label} as ${role}: ${res.status}, expected 403`);
          else if (!JSON.parse(text).error.includes(`role ${role}`)) problems.push(`${label} as ${role}: 403 message ${text}`);
        } else {
          if (res.status === 401 || res.status === 403) problems.push(`${label} as ${role}: ${res.status} ${text}`);
          if (res.status >= 400 && r.tag !== 'dicomweb' && !(JSON.parse(text) as { error?: string }).error) problems.push(`${label} as ${role}: ${res.status} without a message`);
        }
      }
    }
    assert.deepEqual(problems, []);
    // Operators read and operate, but configuration changes answer 403 with a message.
    const denied = await node.api('/api/v1/destinations', as(tokens.operator, { method: 'POST', body: JSON.stringify({ name: 'x', type: 'dimse', aeTitle: 'X', host: 'h', port: 104 }), headers: { 'content-type': 'application/json' } }));
    assert.equal(denied.status, 403);
    assert.match(((await denied.json()) as { error: string }).error, /configuration changes need the admin role/);
  });

  it('shows a token once, keeps only its hash, lists names and roles, revokes, and answers 400/404/409 with messages', async () => {
    node = await startTestNode({ sources: [{ aeTitle: 'MODALITY1' }] });
    const op = await issue(node, 'night-shift', 'operator');
    const list = (await (await node.api('/api/v1/tokens')).json()) as Record<string, unknown>[];
    assert.deepEqual(list.map((t) => [t.name, t.role]), [['night-shift', 'operator']]);
    assert.ok(list.every((t) => !('token' in t) && !JSON.stringify(t).includes(op.token.slice(4))), 'the list never holds the token');
    const row = node.db.prepare('SELECT token_sha256 FROM api_tokens WHERE name = ?').get('night-shift') as { token_sha256: string };
    assert.equal(row.token_sha256, createHash('sha256').update(op.token).digest('hex'));
    assert.ok(!readFileSync(path.join(node.dataDir, 'node.sqlite')).includes(op.token), 'the token itself is not in the database file');

    assert.equal((await node.api('/api/v1/studies', as(op.token))).status, 200);
    const used = (await (await node.api('/api/v1/tokens')).json()) as { lastUsedAt: string | null }[];
    assert.ok(used[0]!.lastUsedAt, 'last use recorded');

    const bad = async (body: unknown, status: number, pattern: RegExp) => {
      const r = await node.api('/api/v1/tokens', { method: 'POST', body: JSON.stringify(body) });
      const text = await r.text();
      assert.equal(r.status, status, text);
      assert.match(text, pattern);
    };
    await bad({ name: 'x', role: 'root' }, 400, /role/);
    await bad({ name: 'has space', role: 'operator' }, 400, /token name/);
    await bad({ name: 'admin', role: 'operator' }, 400, /token name/);
    await bad({ name: 'feed', role: 'ingest' }, 400, /source/);
    await bad({ name: 'feed', role: 'operator', source: 'MODALITY1' }, 400, /source/);
    await bad({ name: 'feed', role: 'ingest', source: 'NOSUCHSRC' }, 400, /NOSUCHSRC is not a configured source/);
    await bad({ name: 'night-shift', role: 'metrics' }, 409, /exists/);
    const missing = await node.api('/api/v1/tokens/nobody', { method: 'DELETE' });
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { error: string }).error, /no token nobody/);

    assert.equal((await node.api('/api/v1/tokens/night-shift', { method: 'DELETE' })).status, 204);
    const revoked = await node.api('/api/v1/studies', as(op.token));
    assert.equal(revoked.status, 401);
    assert.match(((await revoked.json()) as { error: string }).error, /revoked/);
  });

  it('attributes STOW-RS with an ingest token to its source, and refuses it once the source is gone', async () => {
    node = await startTestNode({ sources: [{ aeTitle: 'MODALITY1' }] });
    const ing = await issue(node, 'ct-feed', 'ingest', 'MODALITY1');
    const study = writeMrStudy(work.dir, { slices: 1, name: 'ingest' });
    const boundary = 'b-42';
    const body = Buffer.concat([...study.files.flatMap((f) => [Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), readFileSync(f), Buffer.from('\r\n')]), Buffer.from(`--${boundary}--\r\n`)]);
    const stow = (token: string) =>
      node.api('/dicomweb/studies', as(token, { method: 'POST', body, headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` } }));
    const r = await stow(ing.token);
    assert.equal(r.status, 200, await r.clone().text());
    const stored = node.instances.listStudyInstances(study.studyUid);
    assert.equal(stored.length, 3);
    assert.ok(stored.every((i) => i.callingAeTitle === 'MODALITY1'), 'recorded as sent by the token source');
    // The ingest token reads nothing.
    assert.equal((await node.api('/api/v1/studies', as(ing.token))).status, 403);
    assert.equal((await node.api('/api/v1/sources/MODALITY1', { method: 'DELETE' })).status, 204);
    const gone = await stow(ing.token);
    assert.equal(gone.status, 403);
    assert.match(((await gone.json()) as { error: string }).error, /no longer a configured source/);
  });

  it('force-completes a receiving study for an operator: 200 with its analysis job, then 409; 404 unknown, 400 bad UID', async () => {
    node = await startTestNode({
      dimse: { allowUnknownSources: true },
      localAeTitles: [{ aeTitle: 'NPCAI', completion: { quietSeconds: 3600, forceCompleteSeconds: 7200 } }],
    });
    const op = await issue(node, 'op', 'operator');
    const study = writeMrStudy(work.dir, { slices: 1, name: 'force' });
    const sent = await storescu(node.dimsePort, [study.series[0]!.files[0]!]);
    assert.equal(sent.code, 0, sent.output);
    await waitFor(() => (node.assembler.studies.receptionsOf(study.studyUid)[0] ? true : undefined), 'the study row');
    const metrics = (await issue(node, 'prom', 'metrics')).token;
    assert.equal((await node.api(`/api/v1/studies/${study.studyUid}/complete`, as(metrics, { method: 'POST' }))).status, 403);
    const r = await node.api(`/api/v1/studies/${study.studyUid}/complete`, as(op.token, { method: 'POST' }));
    const body = (await r.json()) as { state: string; completionReason: string; job: { id: number; kind: string }; analysisJob?: unknown };
    assert.equal(r.status, 200, JSON.stringify(body));
    assert.equal(body.state, 'complete');
    assert.equal(body.completionReason, 'forced');
    assert.equal(body.job.kind, 'analysis');
    assert.deepEqual(body.analysisJob, body.job, 'the deprecated alias analysisJob still carries the same job (one release)');
    const again = await node.api(`/api/v1/studies/${study.studyUid}/complete`, as(op.token, { method: 'POST' }));
    assert.equal(again.status, 409);
    assert.match(((await again.json()) as { error: string }).error, /already complete/);
    const unknown = await node.api(`/api/v1/studies/${deterministicUid('never-sent')}/complete`, as(op.token, { method: 'POST' }));
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as { error: string }).error, /no study/);
    const badUid = await node.api('/api/v1/studies/not-a-uid/complete', as(op.token, { method: 'POST' }));
    assert.equal(badUid.status, 400);
    assert.match(((await badUid.json()) as { error: string }).error, /StudyInstanceUID/);
  });

  it('keeps tokens across a restart and across kill -9', async () => {
    const dataDir = path.join(work.dir, 'data');
    let proc = await startNodeProcess(work.dir, dataDir, {});
    const post = (name: string, role: Role) =>
      proc.api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name, role }), headers: { 'content-type': 'application/json' } });
    let r = await post('before-term', 'operator');
    assert.equal(r.status, 201, proc.output());
    const first = ((await r.json()) as Issued).token;
    proc.child.kill('SIGTERM');
    await proc.exited;
    proc = await startNodeProcess(work.dir, dataDir, {});
    r = await post('before-kill', 'metrics');
    assert.equal(r.status, 201);
    const second = ((await r.json()) as Issued).token;
    // kill -9 right after the answer: the token was committed before it was shown.
    proc.child.kill('SIGKILL');
    await proc.exited;
    proc = await startNodeProcess(work.dir, dataDir, {});
    try {
      const base = `http://127.0.0.1:${proc.httpPort}`;
      assert.equal((await fetch(`${base}/api/v1/studies`, { headers: { authorization: `Bearer ${first}` } })).status, 200);
      assert.equal((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${second}` } })).status, 200);
      assert.equal((await fetch(`${base}/api/v1/studies`, { headers: { authorization: `Bearer ${second}` } })).status, 403);
      const names = ((await (await proc.api('/api/v1/tokens')).json()) as { name: string }[]).map((t) => t.name);
      assert.deepEqual(names, ['before-kill', 'before-term']);
    } finally {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
  });
});
