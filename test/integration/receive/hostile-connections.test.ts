/**
 * The DIMSE listener under hostile connections (raw sockets from loopback addresses 127.0.0.x, real
 * DCMTK echoscu/storescu for the legitimate modality): dribbling association requests, per-address limits,
 * a C-ECHO that announces a data set and streams 200 MiB (RSS of the node process from /proc), a C-STORE
 * over the instance size cap, and STOW-RS over its limits. Every loop is bounded in count and time.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startTestNode, type TestNode, TEST_TOKEN } from '../../helpers/test-node';
import { startNodeProcess, type NodeProcess } from '../../helpers/node-process';
import { tempDir } from '../../helpers/temp-dir';
import { writeMrInstance } from '../../helpers/mr-fixture';
import { echoscu, storescu } from '../../helpers/dicom-peers';
import { associate, associateRq, commandSet, connectRaw, pdata, type RawConnection } from '../../helpers/raw-dimse';
import { deterministicUid } from '../../../src/dicom/uids';

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens `n` connections from 127.0.0.(10 + i % addresses) that send the first 10 bytes of an A-ASSOCIATE-RQ. */
async function openDribblers(port: number, n: number, addresses: number): Promise<RawConnection[]> {
  const rq = associateRq('DRIBBLER', 'NPCAI');
  const out: RawConnection[] = [];
  for (let i = 0; i < n; i++) {
    const c = await connectRaw(port, `127.0.0.${10 + (i % addresses)}`);
    c.socket.write(rq.subarray(0, 10));
    out.push(c);
  }
  return out;
}

/** Every other dribbler sends one more byte of its request per second (the rest send nothing), until stopped. */
function dribble(conns: RawConnection[]): () => void {
  const rq = associateRq('DRIBBLER', 'NPCAI');
  let pos = 10;
  const t = setInterval(() => {
    if (pos >= rq.length - 1) return;
    conns.forEach((c, i) => {
      if (i % 2 === 0 && !c.socket.destroyed) c.socket.write(rq.subarray(pos, pos + 1));
    });
    pos += 1;
  }, 1000);
  return () => clearInterval(t);
}

async function timedEcho(port: number): Promise<{ ms: number; code: number; output: string }> {
  const t0 = Date.now();
  const r = await echoscu(port);
  return { ms: Date.now() - t0, ...r };
}

function vmRssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

describe('DIMSE listener under hostile connections (integration, raw sockets + DCMTK)', function () {
  this.timeout(90000);
  const nodes: TestNode[] = [];
  const conns: RawConnection[] = [];
  const start = async (overrides: unknown) => {
    const n = await startTestNode(overrides);
    nodes.push(n);
    return n;
  };
  afterEach(async () => {
    for (const c of conns.splice(0)) c.socket.destroy();
    for (const n of nodes.splice(0)) await n.cleanup();
  });

  for (const count of [64, 300]) {
    it(`accepts a registered modality within ~2 s while ${count} connections dribble their association request, and closes the dribblers at the ARTIM deadline`, async () => {
      const node = await start({ sources: [{ aeTitle: 'STORESCU', host: '127.0.0.1' }], dimse: { associationRequestTimeoutSeconds: 4 } });
      const opened = Date.now();
      const dribblers = await openDribblers(node.dimsePort, count, 40);
      conns.push(...dribblers);
      const stop = dribble(dribblers);
      try {
        await sleep(300);
        const echo = await timedEcho(node.dimsePort);
        console.log(`      [measured] ${count} dribblers: echoscu accepted in ${echo.ms} ms`);
        assert.equal(echo.code, 0, echo.output);
        assert.ok(echo.ms < 3000, `echoscu took ${echo.ms} ms`);
        if (count > 128) {
          // Beyond maxConnections (128) the oldest unassociated connections gave way.
          assert.ok(dribblers.filter((c) => c.socket.destroyed).length >= count - 128, 'oldest dribblers not closed for newcomers');
        }
        // The deadline counts from accept: every dribbler is closed shortly after it, whatever it sends.
        const allClosed = await Promise.all(dribblers.map((c) => c.closed(Math.max(0, opened + 4000 + 3000 - Date.now()))));
        console.log(`      [measured] all ${count} dribblers closed ${Date.now() - opened} ms after the first opened (deadline 4000 ms)`);
        assert.ok(allClosed.every(Boolean), `${allClosed.filter((c) => !c).length} dribblers still open`);
        assert.ok(dribblers.every((c) => c.received().length === 0), 'a dribbler got an answer');
        assert.equal((await echoscu(node.dimsePort)).code, 0);
      } finally {
        stop();
      }
    });
  }

  it('limits connections per peer address: unassociated ones from that address give way, associated ones do not', async () => {
    const node = await start({ sources: [{ aeTitle: 'RAWSCU' }], dimse: { maxConnectionsPerAddress: 4 } });
    const from2 = [];
    for (let i = 0; i < 4; i++) {
      const a = await associate(node.dimsePort, { localAddress: '127.0.0.2' });
      conns.push(a.conn);
      assert.equal(a.pduType, 0x02, `association ${i + 1} from 127.0.0.2`);
      from2.push(a);
    }
    const fifth = await associate(node.dimsePort, { localAddress: '127.0.0.2', timeoutMs: 2000 });
    conns.push(fifth.conn);
    assert.equal(fifth.pduType, 0, 'a fifth connection from 127.0.0.2 was answered');
    assert.ok(await fifth.conn.closed(2000), 'a fifth connection from 127.0.0.2 was held');
    const other = await associate(node.dimsePort, { localAddress: '127.0.0.3' });
    conns.push(other.conn);
    assert.equal(other.pduType, 0x02, 'another address is served');
    assert.ok(from2.every((a) => !a.conn.socket.destroyed), 'an associated connection was closed');

    const silent: RawConnection[] = [];
    for (let i = 0; i < 4; i++) silent.push(await connectRaw(node.dimsePort, '127.0.0.4'));
    conns.push(...silent);
    const late = await associate(node.dimsePort, { localAddress: '127.0.0.4' });
    conns.push(late.conn);
    assert.equal(late.pduType, 0x02, 'a full request from 127.0.0.4 while 4 silent connections from it are held');
    assert.ok(await silent[0]!.closed(2000), 'the oldest silent connection did not give way');
    assert.ok(silent.slice(1).every((c) => !c.socket.destroyed), 'more than the oldest gave way');
  });

  it('closes an association idle for idleTimeoutSeconds even while it dribbles single bytes of a PDU', async () => {
    const node = await start({ sources: [{ aeTitle: 'RAWSCU' }], dimse: { idleTimeoutSeconds: 2 } });
    const a = await associate(node.dimsePort);
    conns.push(a.conn);
    assert.equal(a.pduType, 0x02);
    const pdu = pdata(1, true, true, commandSet(0x0030, 0x0101));
    const t0 = Date.now();
    let pos = 0;
    const t = setInterval(() => {
      if (pos < pdu.length - 1 && !a.conn.socket.destroyed) a.conn.socket.write(pdu.subarray(pos, ++pos));
    }, 200);
    try {
      assert.ok(await a.conn.closed(6000), 'still open');
      const ms = Date.now() - t0;
      console.log(`      [measured] byte-dribbling association aborted after ${ms} ms (idle limit 2000 ms)`);
      assert.ok(ms >= 1500 && ms < 4500, `${ms} ms`);
      assert.equal(a.conn.received().subarray(-10)[0], 0x07, 'A-ABORT');
    } finally {
      clearInterval(t);
    }
  });

  it('aborts a C-ECHO that announces a data set before buffering its 200 MiB, and caps other buffered data sets; node RSS stays flat', async () => {
    const work = tempDir('npcai-hostile-rss-');
    let proc: NodeProcess | undefined;
    try {
      proc = await startNodeProcess(work.dir, path.join(work.dir, 'data'), { sources: [{ aeTitle: 'RAWSCU' }, { aeTitle: 'STORESCU' }] });
      const pid = proc.child.pid!;
      for (const [label, command] of [
        ['C-ECHO-RQ announcing a data set', commandSet(0x0030, 0x0000)],
        ['C-FIND-RQ (not served) with a 200 MiB identifier', commandSet(0x0020, 0x0000)],
      ] as const) {
        const a = await associate(proc.dimsePort);
        assert.equal(a.pduType, 0x02, proc.output().slice(-2000));
        const before = vmRssBytes(pid);
        const s = a.conn.socket;
        s.write(pdata(1, true, true, command));
        const chunk = pdata(1, false, false, Buffer.alloc(64 * 1024 - 12, 0x41));
        const total = 200 * 1024 * 1024;
        let sent = 0;
        const t0 = Date.now();
        await new Promise<void>((resolve) => {
          const pump = () => {
            while (!s.destroyed && sent < total && Date.now() - t0 < 30000) {
              sent += chunk.length;
              if (!s.write(chunk)) return;
            }
            resolve();
          };
          s.on('drain', pump);
          s.on('close', () => resolve());
          s.on('error', () => resolve());
          pump();
        });
        const closed = await a.conn.closed(5000);
        const after = vmRssBytes(pid);
        const growth = after - before;
        console.log(`      [measured] ${label}: aborted=${closed} after ${(sent / 1048576).toFixed(1)} MiB written by the peer, node VmRSS ${(before / 1048576).toFixed(0)} -> ${(after / 1048576).toFixed(0)} MiB (+${(growth / 1048576).toFixed(1)} MiB)`);
        assert.ok(closed, `${label}: association not aborted`);
        assert.ok(a.conn.received().includes(Buffer.from([0x07, 0x00, 0x00, 0x00, 0x00, 0x04])), `${label}: no A-ABORT`);
        assert.ok(sent < total, `${label}: the peer could send all 200 MiB`);
        assert.ok(growth < 64 * 1024 * 1024, `${label}: node RSS grew ${growth} bytes`);
      }
      // Still serving.
      assert.equal((await echoscu(proc.dimsePort)).code, 0);
    } finally {
      if (proc) {
        proc.child.kill('SIGKILL');
        await proc.exited;
      }
      work.cleanup();
    }
  });

  it('answers 0xA700 to a C-STORE over maxInstanceBytes while it streams, stores nothing and serves on', async () => {
    const node = await start({ sources: [{ aeTitle: 'STORESCU' }], dimse: { maxInstanceBytes: 1024 * 1024 } });
    const work = tempDir('npcai-hostile-cap-');
    try {
      const spec = (name: string, rows: number) => ({
        studyUid: deterministicUid('cap-study'),
        seriesUid: deterministicUid('cap-series'),
        sopUid: deterministicUid(name),
        seriesNumber: 1,
        instanceNumber: 1,
        seriesDescription: 'AX T2',
        rows,
        columns: rows,
      });
      const big = writeMrInstance(path.join(work.dir, 'big.dcm'), spec('cap-big', 1024));
      const r = await storescu(node.dimsePort, [big], { extra: ['-d'] });
      assert.match(r.output, /DIMSE Status\s*:\s*0xa700/i, r.output.slice(-1500));
      assert.match(r.output, /instance larger than 1 MiB/, r.output.slice(-1500));
      assert.equal(node.instances.getInstance(deterministicUid('cap-big')), undefined);
      assert.deepEqual(listFiles(path.join(node.dataDir, 'instances')), []);
      const small = writeMrInstance(path.join(work.dir, 'small.dcm'), spec('cap-small', 64));
      assert.equal((await storescu(node.dimsePort, [small])).code, 0);
      assert.ok(node.instances.getInstance(deterministicUid('cap-small')));
      await sleep(200);
      assert.deepEqual(listFiles(path.join(node.dataDir, 'spool')), []);
    } finally {
      work.cleanup();
    }
  });
});

describe('STOW-RS limits (integration)', function () {
  this.timeout(60000);
  let node: TestNode;
  let work: { dir: string; cleanup: () => void };
  before(async () => {
    node = await startTestNode({ http: { maxStowBytes: 65536, maxStowPartBytes: 4096, stowRequestTimeoutSeconds: 1 } });
    work = tempDir('npcai-stow-limits-');
  });
  after(async () => {
    await node.cleanup();
    work.cleanup();
  });

  const boundary = 'npcai-limits-7';
  const partHead = Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`);
  const close = Buffer.from(`\r\n--${boundary}--\r\n`);

  /** POSTs `chunks` one after another (chunked, no content-length unless given), `gapMs` apart; resolves with the answer. */
  function post(chunks: Buffer[], opts: { gapMs?: number; contentLength?: number } = {}): Promise<{ status: number; body: string; ms: number }> {
    return new Promise((resolve, reject) => {
      const t0 = Date.now();
      const headers: Record<string, string> = { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` };
      if (opts.contentLength !== undefined) headers['content-length'] = String(opts.contentLength);
      const req = http.request({ host: '127.0.0.1', port: node.httpPort, method: 'POST', path: '/dicomweb/studies', headers }, (res) => {
        let body = '';
        res.on('data', (b: Buffer) => (body += b.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: Date.now() - t0 }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0, body, ms: Date.now() - t0 }));
      });
      req.on('error', (e) => reject(e));
      let i = 0;
      const next = () => {
        if (req.destroyed) return;
        if (i >= chunks.length) return void req.end();
        req.write(chunks[i++]);
        if (opts.gapMs) setTimeout(next, opts.gapMs);
        else next();
      };
      next();
    });
  }

  it('answers 413 with a message to a part over maxStowPartBytes and stores nothing', async () => {
    const file = writeMrInstance(path.join(work.dir, 'part.dcm'), {
      studyUid: deterministicUid('stow-cap'), seriesUid: deterministicUid('stow-cap-s'), sopUid: deterministicUid('stow-cap-1'),
      seriesNumber: 1, instanceNumber: 1, seriesDescription: 'AX', rows: 64, columns: 64,
    });
    const bytes = readFileSync(file);
    assert.ok(bytes.length > 4096 && bytes.length < 65536);
    const r = await post([partHead, bytes, close]);
    assert.equal(r.status, 413, r.body);
    assert.match(r.body, /part larger than 4096 bytes/);
    assert.equal(node.instances.getInstance(deterministicUid('stow-cap-1')), undefined);
  });

  it('answers 413 with a message to a chunked request over maxStowBytes', async () => {
    const parts: Buffer[] = [];
    for (let i = 0; i < 24; i++) parts.push(partHead, Buffer.alloc(3000, 0x41), Buffer.from('\r\n'));
    const r = await post([...parts, close]);
    assert.equal(r.status, 413, r.body);
    assert.match(r.body, /request body larger than 65536 bytes/);
    assert.deepEqual(listFiles(path.join(node.dataDir, 'spool')), []);
  });

  it('answers 408 with a message to a body that has not arrived within stowRequestTimeoutSeconds', async () => {
    const chunks = [partHead, ...Array.from({ length: 20 }, () => Buffer.alloc(10, 0x41)), close];
    const r = await post(chunks, { gapMs: 300 });
    console.log(`      [measured] slow STOW-RS answered ${r.status} after ${r.ms} ms (deadline 1000 ms)`);
    assert.equal(r.status, 408, r.body);
    assert.match(r.body, /not received within 1 s/);
    assert.ok(r.ms < 3000, `${r.ms} ms`);
  });

  it('still stores a request within the limits', async () => {
    const file = writeMrInstance(path.join(work.dir, 'ok.dcm'), {
      studyUid: deterministicUid('stow-ok'), seriesUid: deterministicUid('stow-ok-s'), sopUid: deterministicUid('stow-ok-1'),
      seriesNumber: 1, instanceNumber: 1, seriesDescription: 'AX', rows: 16, columns: 16,
    });
    const r = await post([partHead, readFileSync(file), close]);
    assert.equal(r.status, 200, r.body);
    assert.ok(node.instances.getInstance(deterministicUid('stow-ok-1')));
  });
});
