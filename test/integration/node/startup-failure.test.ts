import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startTestNode } from '../../helpers/test-node';
import { tempDir } from '../../helpers/temp-dir';

/** A TCP port held by another listener for the test. */
async function occupiedPort(): Promise<{ port: number; release(): Promise<void> }> {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  return { port: (blocker.address() as net.AddressInfo).port, release: () => new Promise((r) => blocker.close(() => r())) };
}

/** Listening TCP servers of this process (libuv handles), to see that startup left none behind. */
function tcpServers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
}

describe('startNode when a listener cannot start', () => {
  for (const which of ['http', 'dimse'] as const) {
    it(`rejects with a message naming the ${which.toUpperCase()} port and closes what it had opened`, async () => {
      const t = tempDir('npcai-startup-');
      const taken = await occupiedPort();
      try {
        const before = tcpServers();
        await assert.rejects(
          startTestNode({ [which]: { port: taken.port } }, { dataDir: t.dir }),
          (e: Error) => {
            assert.match(e.message, new RegExp(`^${which.toUpperCase()} listener could not start on 127\\.0\\.0\\.1:${taken.port}: the port is already in use$`));
            return true;
          },
        );
        // Every SQLite connection closed: the last one to close checkpoints and deletes the WAL files.
        const dbFile = path.join(t.dir, 'node.sqlite');
        assert.ok(existsSync(dbFile), 'the database had been opened');
        assert.equal(existsSync(`${dbFile}-wal`), false, 'a database connection was left open');
        assert.equal(existsSync(`${dbFile}-shm`), false, 'a database connection was left open');
        await new Promise((r) => setTimeout(r, 50)); // handles close on the next loop turn
        // No listener left behind (for DIMSE: the HTTP listener that had started is closed again).
        assert.equal(tcpServers(), before, 'a listening socket was left open');
      } finally {
        await taken.release();
        t.cleanup();
      }
    });
  }

  it('starts normally on the port once it is free again', async () => {
    const taken = await occupiedPort();
    const port = taken.port;
    await taken.release();
    const node = await startTestNode({ http: { port } });
    try {
      assert.equal(node.httpPort, port);
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    } finally {
      await node.cleanup();
    }
  });
});
