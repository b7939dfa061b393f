/**
 * The node as a real child process (`node dist/src/main.js`, configured through NPC_* variables and an
 * NPC_CONFIG file), for tests that kill or signal it; and storescu runs whose per-file acknowledgements
 * are followed as they happen.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TEST_TOKEN } from './test-node';
import { freePort, startNodeChildProcess, type StartedNodeChild } from './node-child';

export { freePort };

/** The node child for tests: its process, ports, output, exit and api() with the test token. */
export type NodeProcess = Pick<StartedNodeChild, 'child' | 'dimsePort' | 'httpPort' | 'output' | 'exited' | 'api'>;

/**
 * Starts the node on `dataDir` with `config` (written to <work>/<name>-config.json) and waits until its
 * HTTP side answers /healthz and its DIMSE port accepts connections. Models come from an empty directory,
 * so startup is fast.
 */
export async function startNodeProcess(work: string, dataDir: string, config: Record<string, unknown>, name = 'node'): Promise<NodeProcess> {
  const dimsePort = await freePort();
  const httpPort = await freePort();
  const modelsDir = path.join(work, 'models-empty');
  mkdirSync(modelsDir, { recursive: true });
  const configFile = path.join(work, `${name}-config.json`);
  writeFileSync(configFile, JSON.stringify({ models: { dir: modelsDir }, storage: { freeSpaceWatermarkMb: 0 }, dimse: { host: '127.0.0.1' }, ...config }));
  const node = await startNodeChildProcess({
    dataDir,
    configFile,
    dimsePort,
    httpPort,
    token: TEST_TOKEN,
    env: { NPC_EXECUTION_PROVIDERS: 'cpu', NPC_LOG_LEVEL: 'info' },
    startupTimeoutMs: 30_000,
  });
  return { child: node.child, dimsePort, httpPort, output: node.output, exited: node.exited, api: node.api };
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
