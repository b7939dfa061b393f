/**
 * The node as a child process (`node dist/src/main.js`), started the one way the tests that kill or signal
 * it (node-process.ts) and the benchmarks that measure its RSS (bench/common.ts) both need: NPC_* variables
 * and an NPC_CONFIG file, output kept for messages, and "started" meaning /healthz answers and the DIMSE
 * port accepts connections (HTTP listens first). No project module is imported, so a benchmark's own
 * process stays small.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

/** The repository root (this file runs as dist/test/helpers/node-child.js). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const MAIN = path.join(REPO_ROOT, 'dist', 'src', 'main.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = net.connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
    s.on('error', () => r(false));
  });
}

export interface NodeChildSpec {
  dataDir: string;
  configFile: string;
  dimsePort: number;
  httpPort: number;
  /** NPC_ADMIN_TOKEN, sent by api(). */
  token: string;
  /** Further variables (NPC_LOG_LEVEL, UV_THREADPOOL_SIZE, ...), over process.env and the NPC_* above. */
  env?: NodeJS.ProcessEnv;
  /** How long startup may take before the child is killed and this throws. */
  startupTimeoutMs: number;
  /** Keep only the last this many characters of stdout + stderr (default: all). */
  outputLimit?: number;
}

export interface StartedNodeChild {
  child: ChildProcess;
  pid: number;
  dimsePort: number;
  httpPort: number;
  dataDir: string;
  /** stdout + stderr so far (for assertion messages). */
  output(): string;
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  exited: Promise<number | string>;
  /** A request to the node's HTTP side with the admin token (it replaces any authorization given). */
  api(p: string, init?: RequestInit): Promise<Response>;
  /** SIGTERM, SIGKILL after 15 s; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Starts the node and resolves once it is up; throws (the child killed) if it exits or is not up in time. */
export async function startNodeChildProcess(spec: NodeChildSpec): Promise<StartedNodeChild> {
  const child = spawn(process.execPath, [MAIN], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      NPC_DATA_DIR: spec.dataDir,
      NPC_DIMSE_PORT: String(spec.dimsePort),
      NPC_HTTP_PORT: String(spec.httpPort),
      NPC_ADMIN_TOKEN: spec.token,
      NPC_CONFIG: spec.configFile,
      ...spec.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (b: Buffer) => {
    out += b.toString();
    if (spec.outputLimit !== undefined && out.length > spec.outputLimit) out = out.slice(-spec.outputLimit);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  let ended = false;
  void exited.then(() => (ended = true));
  const api = (p: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${spec.token}`);
    return fetch(`http://127.0.0.1:${spec.httpPort}${p}`, { ...init, headers });
  };
  const deadline = Date.now() + spec.startupTimeoutMs;
  for (;;) {
    if (ended) throw new Error(`node exited during startup:\n${out.slice(-3000)}`);
    try {
      if ((await fetch(`http://127.0.0.1:${spec.httpPort}/healthz`)).ok && (await portOpen(spec.dimsePort))) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`node did not start within ${spec.startupTimeoutMs} ms:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    pid: child.pid!,
    dimsePort: spec.dimsePort,
    httpPort: spec.httpPort,
    dataDir: spec.dataDir,
    output: () => out,
    exited,
    api,
    async stop() {
      if (ended) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}
