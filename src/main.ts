/** Entry point of `npm start`: load config (refusing to start on any problem), start the node, stop on signals. */
import { loadConfig, ConfigError } from './config/load';
import { startNode } from './node';
import { errorMessage } from './util/error-message';
import { countUnexpectedError } from './util/unexpected-errors';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      process.exit(2);
    }
    throw err;
  }
  const node = await startNode(config);
  // An error that escaped every catch is logged and counted (npcai_unexpected_errors_total), never fatal:
  // the listeners keep serving, and what is durable is decided by the store, not by this process's life.
  process.on('unhandledRejection', (reason) => {
    countUnexpectedError('unhandledRejection');
    node.logger.error('unhandled promise rejection', { error: errorMessage(reason) });
  });
  process.on('uncaughtException', (err) => {
    countUnexpectedError('uncaughtException');
    node.logger.error('uncaught exception', { error: errorMessage(err), stack: err instanceof Error ? err.stack : undefined });
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    node.logger.info('stopping', { signal });
    const hard = setTimeout(() => {
      node.logger.error('stop took longer than 25 s; exiting');
      process.exit(1);
    }, 25_000);
    hard.unref();
    node.stop().then(
      () => process.exit(0),
      (err) => {
        node.logger.error('stop failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`npc-ai-node failed to start: ${errorMessage(err)}\n`);
  process.exit(1);
});
