/**
 * The node as a real child process (`node dist/src/main.js`, configured through NPC_* variables and an
 * NPC_CONFIG file), for tests that kill or signal it; and storescu runs whose per-file acknowledgements
 * are followed as they happen.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { TEST_TOKEN } from './test-node';

const MAIN = path.resolve(__dirname, '..', '..', 'src', 'main.js');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export interface NodeProcess {
  child: ChildProcess;
  dimsePort: number;
  httpPort: number;
  /** stdout + stderr so far (for assertion messages). */
  output(): string;
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  exited: Promise<number | string>;
  api(p: string, init?: RequestInit): Promise<Response>;
}

/**
 * Starts the node on `dataDir` with `config` (written to <dataDir>/../<name>.json) and waits until its
 * HTTP side answers /healthz. Models come from an empty directory, so startup is fast.
 */
export async function startNodeProcess(work: string, dataDir: string, config: Record<string, unknown>, name = 'node'): Promise<NodeProcess> {
  const dimsePort = await freePort();
  const httpPort = await freePort();
  const modelsDir = path.join(work, 'models-empty');
  mkdirSync(modelsDir, { recursive: true });
  const configFile = path.join(work, `${name}-config.json`);
  writeFileSync(configFile, JSON.stringify({ models: { dir: modelsDir }, storage: { freeSpaceWatermarkMb: 0 }, dimse: { host: '127.0.0.1' }, ...config }));
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      NPC_DATA_DIR: dataDir,
      NPC_DIMSE_PORT: String(dimsePort),
      NPC_HTTP_PORT: String(httpPort),
      NPC_ADMIN_TOKEN: TEST_TOKEN,
      NPC_CONFIG: configFile,
      NPC_EXECUTION_PROVIDERS: 'cpu',
      NPC_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  let ended = false;
  void exited.then(() => (ended = true));
  const api = (p: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${TEST_TOKEN}`);
    return fetch(`http://127.0.0.1:${httpPort}${p}`, { ...init, headers });
  };
  const deadline = Date.now() + 30000;
  for (;;) {
    if (ended) throw new Error(`node exited during startup:\n${out.slice(-3000)}`);
    try {
      if ((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok) {
        // HTTP listens before DIMSE: wait for the DIMSE port too.
        const ok = await new Promise<boolean>((r) => {
          const s = net.connect(dimsePort, '127.0.0.1', () => (s.destroy(), r(true)));
          s.on('error', () => r(false));
        });
        if (ok) break;
      }
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`node did not start:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, dimsePort, httpPort, output: () => out, exited, api };
}

export interface StorescuRun {
  /** Files storescu reported as stored with Success, in order. */
  acknowledged: string[];
  /** Resolves when storescu has exited. */
  done: Promise<{ code: number | null; output: string }>;
  /** Resolves once at least `n` files were acknowledged (or storescu ended first). */
  whenAcknowledged(n: number): Promise<number>;
}

/** storescu -v, following "Sending file" / "Received Store Response (Success)" pairs as they arrive. */
export function followStorescu(port: number, files: string[], opts: { aet?: string; aec?: string } = {}): StorescuRun {
  const child = spawn('stdbuf', ['-oL', '-eL', 'storescu', '-v', '-aet', opts.aet ?? 'STORESCU', '-aec', opts.aec ?? 'NPCAI', '127.0.0.1', String(port), ...files], {
    env: { ...process.env, TCP_NODELAY: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acknowledged: string[] = [];
  let output = '';
  let pending = '';
  let current: string | undefined;
  const waiters: Array<{ n: number; resolve: (n: number) => void }> = [];
  const onLine = (line: string) => {
    const sending = /Sending file: (.+)$/.exec(line);
    if (sending) current = sending[1]!.trim();
    else if (/Received Store Response \(Success\)/.test(line) && current) {
      acknowledged.push(current);
      current = undefined;
      for (const w of waiters.splice(0)) {
        if (acknowledged.length >= w.n) w.resolve(acknowledged.length);
        else waiters.push(w);
      }
    }
  };
  const onData = (b: Buffer) => {
    output += b.toString();
    pending += b.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    lines.forEach(onLine);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const done = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.once('close', (code) => {
      if (pending) onLine(pending);
      for (const w of waiters.splice(0)) w.resolve(acknowledged.length);
      resolve({ code, output });
    }),
  );
  return {
    acknowledged,
    done,
    whenAcknowledged: (n) => (acknowledged.length >= n ? Promise.resolve(acknowledged.length) : new Promise((resolve) => waiters.push({ n, resolve }))),
  };
}
