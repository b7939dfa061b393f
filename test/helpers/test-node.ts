/** Starts a whole node on loopback with ephemeral ports and a temp data dir, for integration tests. */
import { loadConfig } from '../../src/config/load';
import { startNode, type NodeHandle } from '../../src/node';
import { silentLogger } from '../../src/logging/logger';
import { tempDir } from './temp-dir';
import { mergeConfig } from '../../src/config/load';
import type { RetentionClock } from '../../src/admin/retention';

export const TEST_TOKEN = 'test-token-0123456789abcdef';

export interface TestNode extends NodeHandle {
  dataDir: string;
  /** fetch against the node's HTTP side with the bearer token set. */
  api(path: string, init?: RequestInit): Promise<Response>;
  cleanup(): Promise<void>;
}

export async function startTestNode(overrides: unknown = {}, opts: { dataDir?: string; retentionClock?: RetentionClock } = {}): Promise<TestNode> {
  const t = opts.dataDir ? { dir: opts.dataDir, cleanup: () => undefined } : tempDir('npcai-node-');
  const base = {
    dataDir: t.dir,
    dimse: { port: 0, host: '127.0.0.1' },
    http: { port: 0, host: '127.0.0.1', adminToken: TEST_TOKEN },
    storage: { freeSpaceWatermarkMb: 0 },
    models: { executionProviders: ['cpu'] },
  };
  const config = loadConfig({ env: {}, overrides: mergeConfig(base, overrides) });
  const node = await startNode(config, { logger: silentLogger(), ...(opts.retentionClock ? { retentionClock: opts.retentionClock } : {}) });
  return Object.assign(node, {
    dataDir: t.dir,
    api(p: string, init: RequestInit = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${TEST_TOKEN}`);
      if (init.body && typeof init.body === 'string' && !headers.has('content-type')) headers.set('content-type', 'application/json');
      return fetch(`http://127.0.0.1:${node.httpPort}${p}`, { ...init, headers });
    },
    async cleanup() {
      await node.stop();
      t.cleanup();
    },
  });
}
