import assert from 'node:assert/strict';
import { log as dimseLog } from 'dcmjs-dimse';
import { dimseLibraryLogTarget, ensureDimseLibraryLog, routeDimseLibraryLog } from '../../../src/logging/dimse-library-log';
import { quietDimseLibrary } from '../../../src/deliver/dimse-library';
import { captureLogger } from '../../helpers/log-capture';

describe("dcmjs-dimse's log routing", () => {
  it("sends the library's errors (as warnings) and warnings (at debug) to the node's logger, nothing below", () => {
    const { logger, entries } = captureLogger();
    routeDimseLibraryLog(logger);
    dimseLog.error('association aborted');
    dimseLog.warn('unexpected PDU');
    dimseLog.info('C-STORE request received');
    dimseLog.debug('PDU bytes');
    assert.deepEqual(
      entries.map((e) => [e.level, e.message]),
      [
        ['warn', 'dcmjs-dimse: association aborted'],
        ['debug', 'dcmjs-dimse: unexpected PDU'],
      ],
    );
  });

  it('a delivery using the library afterwards does not silence or move that routing', () => {
    const { logger, entries } = captureLogger();
    routeDimseLibraryLog(logger);
    quietDimseLibrary();
    ensureDimseLibraryLog();
    assert.equal(dimseLibraryLogTarget(), logger);
    dimseLog.error('peer closed the connection');
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.message, 'dcmjs-dimse: peer closed the connection');
  });
});
