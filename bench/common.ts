/**
 * Shared pieces of the benchmarks: the node as a child process (so its RSS is its own), DCMTK storescp as
 * reference receiver and as results destination, timed storescu runs (one or several senders in parallel),
 * RSS and load-average sampling, medians.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { freePort, portOpen, startNodeChildProcess, type StartedNodeChild } from '../test/helpers/node-child';

export { freePort };

export const REPO = path.resolve(__dirname, '..', '..');
export const BENCH_TOKEN = 'bench-token-0123456789abcdef';

export function median(a: readonly number[]): number {
  if (a.length === 0) return NaN;
  const s = [...a].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function loadAverage(): [number, number, number] {
  const [a, b, c] = os.loadavg();
  return [Number(a!.toFixed(2)), Number(b!.toFixed(2)), Number(c!.toFixed(2))];
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(fn: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs: number, everyMs = 25): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Resident set size of a process in bytes (VmRSS), 0 where /proc is missing. */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; gives the peak and the samples. */
export function sampleRss(pid: number, everyMs = 100): { stop(): { peak: number; samples: number[] } } {
  const samples: number[] = [];
  const t = setInterval(() => samples.push(rssOf(pid)), everyMs);
  return {
    stop() {
      clearInterval(t);
      samples.push(rssOf(pid));
      return { peak: Math.max(0, ...samples), samples };
    },
  };
}

export function runTool(cmd: string, args: string[], timeoutMs = 600_000, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out = (out + d).slice(-20000)));
    child.stderr.on('data', (d) => (out = (out + d).slice(-20000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output: out });
    });
  });
}

/** storescu of `dirs` to `port`, one sender per dir, all at once; resolves with the wall time in seconds. */
export async function sendParallel(port: number, aec: string, dirs: readonly string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const results = await Promise.all(dirs.map((d) => runTool('storescu', ['-aet', 'BENCH', '-aec', aec, '+sd', '+r', '127.0.0.1', String(port), d], 900_000, { TCP_NODELAY: '1' })));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const r of results) if (r.code !== 0) throw new Error(`storescu failed: ${r.output.slice(-500)}`);
  return seconds;
}

/** One storescu (one association) sending every dir in `dirs`, in order; resolves with the wall time in seconds. */
export async function sendOne(port: number, aec: string, dirs: readonly string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await runTool('storescu', ['-aet', 'BENCH', '-aec', aec, '+sd', '+r', '127.0.0.1', String(port), ...dirs], 1_800_000, { TCP_NODELAY: '1' });
  if (r.code !== 0) throw new Error(`storescu failed: ${r.output.slice(-500)}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Splits `files` round-robin into `n` fresh directories under `root` (hard links), one per sender. */
export function splitForSenders(files: readonly string[], n: number, root: string): string[] {
  rmSync(root, { recursive: true, force: true });
  const dirs = Array.from({ length: n }, (_, i) => path.join(root, `sender-${i}`));
  for (const d of dirs) mkdirSync(d, { recursive: true });
  files.forEach((f, i) => {
    const to = path.join(dirs[i % n]!, `${i}.dcm`);
    writeFileSync(to, readFileSync(f));
  });
  return dirs;
}

export function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

export function dirBytes(dir: string): number {
  return listFiles(dir).reduce((n, f) => n + statSync(f).size, 0);
}

export interface Storescp {
  port: number;
  aeTitle: string;
  dir: string;
  child: ChildProcess;
  stop(): void;
}

/** DCMTK storescp writing into a fresh dir (no fsync: its default), listening on a free port. */
export async function startStorescp(dir: string, aeTitle = 'STORESCP'): Promise<Storescp> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const child = spawn('storescp', ['--output-directory', dir, '-aet', aeTitle, String(port)], { env: { ...process.env, TCP_NODELAY: '1' }, stdio: 'ignore' });
  await waitFor(async () => ((await portOpen(port)) ? true : undefined), 'storescp to listen', 10_000, 50);
  return {
    port,
    aeTitle,
    dir,
    child,
    stop() {
      child.kill('SIGTERM');
    },
  };
}

/** The node started by startNodeChild (its pid for RSS and CPU, its ports, api() with the bench token, stop()). */
export type NodeChild = StartedNodeChild;

/**
 * Starts `node dist/src/main.js` with `config` (merged over config/default.json by the node itself) on a fresh
 * data dir, and waits for /healthz and the DIMSE port. `env` adds variables (e.g. UV_THREADPOOL_SIZE) for this
 * process only.
 */
export async function startNodeChild(work: string, config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<NodeChild> {
  const dataDir = path.join(work, 'data');
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const dimsePort = await freePort();
  const httpPort = await freePort();
  const configFile = path.join(work, 'node-config.json');
  writeFileSync(configFile, JSON.stringify({ storage: { freeSpaceWatermarkMb: 0 }, dimse: { host: '127.0.0.1', allowUnknownSources: true }, ...config }));
  return startNodeChildProcess({ dataDir, configFile, dimsePort, httpPort, token: BENCH_TOKEN, env: { NPC_LOG_LEVEL: 'warn', ...env }, startupTimeoutMs: 120_000, outputLimit: 20_000 });
}

/** C-ECHO round trip of a fresh echoscu (process start included) in ms. */
export async function echoMs(port: number, aec = 'NPCAI'): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await runTool('echoscu', ['-aet', 'BENCH', '-aec', aec, '127.0.0.1', String(port)], 30_000);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.code !== 0) throw new Error(`echoscu failed: ${r.output.slice(-300)}`);
  return ms;
}

/** Runs echoscu back to back (pausing `gapMs`) until `stop` resolves; gives every latency measured. */
export function echoWhile(port: number, gapMs = 200): { done(): Promise<number[]> } {
  const lat: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        lat.push(await echoMs(port));
      } catch {
        lat.push(NaN);
      }
      await sleep(gapMs);
    }
  })();
  return {
    async done() {
      running = false;
      await loop;
      return lat;
    },
  };
}

/** One number from the node's database (read-only, beside the running node: WAL readers do not block it). */
export function countRows(dataDir: string, sql: string, ...params: unknown[]): number {
  const db = new Database(path.join(dataDir, 'node.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(sql).get(...params) as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Rows from the node's database (read-only). */
export function queryRows<T>(dataDir: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(path.join(dataDir, 'node.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc/PID/stat. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) in parentheses: utime and stime are the 12th and 13th.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

/** CPU seconds the whole machine has spent busy so far (every process and the kernel), from /proc/stat. */
export function machineCpuSeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: everything but idle and iowait.
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / 100;
}

/** `sync` (every file system) or `sync -f DIR` (the file system holding DIR); resolves with its wall time in seconds. */
export async function syncSeconds(dir?: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await runTool('sync', dir ? ['-f', dir] : [], 300_000);
  if (r.code !== 0) throw new Error(`sync failed: ${r.output.slice(-300)}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}
