import assert from 'node:assert/strict';
import { INTERNAL_ERROR, NO_DATA_SET, SOP_CLASS_MISMATCH, ingestReply, spoolFailureReply } from '../../../src/receive/dimse/store-status';
import { isStorageFull } from '../../../src/store/free-space';
import { Status } from '../../../src/dicom/status';
import type { StoredInstance } from '../../../src/store/instance-types';

const errno = (code: string) => Object.assign(new Error(code), { code });

describe('C-STORE reply statuses', () => {
  it('a full disk or quota while spooling is Out of Resources (A700)', () => {
    assert.deepEqual(spoolFailureReply(errno('ENOSPC')), { status: Status.OutOfResources, reason: 'storage full' });
    assert.deepEqual(spoolFailureReply(errno('EDQUOT')), { status: Status.OutOfResources, reason: 'storage full' });
  });

  it('any other spool failure is a Processing Failure (0110), also with no error at all', () => {
    for (const err of [errno('EIO'), new Error('closed early'), null, undefined]) {
      assert.deepEqual(spoolFailureReply(err), { status: Status.ProcessingFailure, reason: 'could not spool the data set' });
    }
  });

  it("answers Success only for an instance the store accepted, else the store's status and reason", () => {
    const instance = {} as StoredInstance;
    assert.deepEqual(ingestReply({ ok: true, instance, duplicate: false }), { status: Status.Success });
    assert.deepEqual(ingestReply({ ok: true, instance, duplicate: true }), { status: Status.Success });
    assert.deepEqual(ingestReply({ ok: false, status: 0xa900, reason: 'data set does not match SOP class', httpStatus: 409 }), {
      status: 0xa900,
      reason: 'data set does not match SOP class',
    });
  });

  it('the fixed refusals are failures that say why, and cannot be changed by a caller', () => {
    for (const r of [NO_DATA_SET, INTERNAL_ERROR, SOP_CLASS_MISMATCH]) {
      assert.notEqual(r.status, Status.Success);
      assert.ok(r.reason.length > 0 && r.reason.length <= 64);
      assert.ok(Object.isFrozen(r));
    }
    assert.equal(SOP_CLASS_MISMATCH.status, Status.SopClassNotSupported);
  });
});

describe('isStorageFull', () => {
  it('is true for ENOSPC and EDQUOT only', () => {
    assert.equal(isStorageFull(errno('ENOSPC')), true);
    assert.equal(isStorageFull(errno('EDQUOT')), true);
    assert.equal(isStorageFull(errno('EACCES')), false);
    assert.equal(isStorageFull('ENOSPC'), false);
    assert.equal(isStorageFull(undefined), false);
  });
});
