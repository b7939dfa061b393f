/** Runs DCMTK peers (storescu, echoscu) asynchronously, with Nagle off, against a node on loopback. */
import { execFile } from 'node:child_process';

export interface PeerRun {
  code: number;
  output: string;
}

export function runTool(cmd: string, args: string[], timeoutMs = 60000): Promise<PeerRun> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, TCP_NODELAY: '1' }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

export function storescu(port: number, files: string[], opts: { aet?: string; aec?: string; extra?: string[] } = {}): Promise<PeerRun> {
  return runTool('storescu', ['-v', '-aet', opts.aet ?? 'STORESCU', '-aec', opts.aec ?? 'NPCAI', ...(opts.extra ?? []), '127.0.0.1', String(port), ...files]);
}

export function echoscu(port: number, opts: { aet?: string; aec?: string } = {}): Promise<PeerRun> {
  return runTool('echoscu', ['-v', '-aet', opts.aet ?? 'STORESCU', '-aec', opts.aec ?? 'NPCAI', '127.0.0.1', String(port)]);
}
