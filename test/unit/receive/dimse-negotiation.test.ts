import assert from 'node:assert/strict';
import { negotiatePresentationContext } from '../../../src/receive/dimse/transfer-syntax-negotiation';
import { decideAssociation } from '../../../src/receive/dimse/association-policy';
import { PduFrameChecker } from '../../../src/receive/dimse/pdu-guard';
import { SopClass, TransferSyntax as TS } from '../../../src/dicom/uids';

const PREF = [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian, TS.JpegLsLossless, TS.RleLossless, TS.ExplicitVRBigEndian];

describe('transfer syntax negotiation', () => {
  it('accepts the first syntax of our preference list that the peer proposed, whatever the peer order', () => {
    assert.deepEqual(negotiatePresentationContext(SopClass.MrImageStorage, [TS.JpegLsLossless, TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian], PREF), { result: 'accept', transferSyntaxUid: TS.ExplicitVRLittleEndian });
    assert.deepEqual(negotiatePresentationContext(SopClass.EnhancedMrImageStorage, [TS.RleLossless, TS.JpegLsLossless], PREF), { result: 'accept', transferSyntaxUid: TS.JpegLsLossless });
  });
  it('never accepts deflate, even when configured', () => {
    assert.deepEqual(negotiatePresentationContext(SopClass.MrImageStorage, [TS.DeflatedExplicitVRLittleEndian], [TS.DeflatedExplicitVRLittleEndian, ...PREF]), { result: 'transfer-syntaxes-not-supported' });
  });
  it('refuses non-MR storage classes as abstract syntax not supported', () => {
    assert.deepEqual(negotiatePresentationContext('1.2.840.10008.5.1.4.1.1.2', [TS.ExplicitVRLittleEndian], PREF), { result: 'abstract-syntax-not-supported' });
  });
  it('accepts verification over little endian', () => {
    assert.deepEqual(negotiatePresentationContext(SopClass.Verification, [TS.ImplicitVRLittleEndian], [TS.JpegLsLossless]), { result: 'accept', transferSyntaxUid: TS.ImplicitVRLittleEndian });
  });
});

describe('association policy', () => {
  const base = { localAeTitles: ['NPCAI'], sources: [{ aeTitle: 'PACS', host: '10.0.0.5' }, { aeTitle: 'ANY' }], allowUnknownSources: false, maxAssociations: 2 };
  const req = (o: Partial<{ calledAeTitle: string; callingAeTitle: string; remoteAddress: string; openAssociations: number }>) => ({ calledAeTitle: 'NPCAI', callingAeTitle: 'ANY', remoteAddress: '127.0.0.1', openAssociations: 0, ...o });
  it('refuses an unknown called AE title', () => assert.equal((decideAssociation(req({ calledAeTitle: 'X' }), base) as { reason: string }).reason, 'called-ae-not-recognized'));
  it('refuses an unknown calling AE title unless unknown sources are allowed', () => {
    assert.equal((decideAssociation(req({ callingAeTitle: 'X' }), base) as { reason: string }).reason, 'calling-ae-not-recognized');
    assert.equal(decideAssociation(req({ callingAeTitle: 'X' }), { ...base, allowUnknownSources: true }).accept, true);
  });
  it('checks a source host against the peer address (IPv4-mapped IPv6 included)', () => {
    assert.equal(decideAssociation(req({ callingAeTitle: 'PACS', remoteAddress: '::ffff:10.0.0.5' }), base).accept, true);
    assert.equal(decideAssociation(req({ callingAeTitle: 'PACS', remoteAddress: '10.0.0.6' }), base).accept, false);
  });
  it('refuses beyond the association cap', () => assert.equal((decideAssociation(req({ openAssociations: 2 }), base) as { reason: string }).reason, 'local-limit-exceeded'));
});

describe('PDU framing guard', () => {
  const limits = { maxPDataLength: 1000, maxControlLength: 500 };
  it('flags a P-DATA before any association request', () => {
    assert.deepEqual(new PduFrameChecker(limits).push(Buffer.from([4, 0, 0xff, 0xff, 0xff, 0xff])), { kind: 'data-before-association' });
  });
  it('flags a PDU longer than allowed, even when its header arrives in pieces', () => {
    const c = new PduFrameChecker(limits);
    assert.equal(c.push(Buffer.from([1, 0, 0, 0])), undefined);
    assert.equal(c.push(Buffer.concat([Buffer.from([0, 10]), Buffer.alloc(10)])), undefined);
    assert.equal(c.push(Buffer.from([4, 0, 0, 0])), undefined);
    assert.deepEqual(c.push(Buffer.from([0x10, 0x00])), { kind: 'pdu-too-long', pduType: 4, length: 4096 });
  });
  it('flags unknown PDU types and passes well-formed streams', () => {
    assert.deepEqual(new PduFrameChecker(limits).push(Buffer.from([9, 0, 0, 0, 0, 0])), { kind: 'unknown-pdu-type', pduType: 9 });
    const c = new PduFrameChecker(limits);
    const rq = Buffer.concat([Buffer.from([1, 0, 0, 0, 0, 4]), Buffer.alloc(4)]);
    const pd = Buffer.concat([Buffer.from([4, 0, 0, 0, 3, 0xe8]), Buffer.alloc(1000)]);
    assert.equal(c.push(Buffer.concat([rq, pd, pd])), undefined);
  });
});
