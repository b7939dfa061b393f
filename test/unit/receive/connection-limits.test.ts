import assert from 'node:assert/strict';
import { ConnectionTable } from '../../../src/receive/dimse/connection-table';
import { MessageGuard } from '../../../src/receive/dimse/message-guard';
import { PduFrameChecker } from '../../../src/receive/dimse/pdu-guard';
import { commandSet, pdata, associateRq } from '../../helpers/raw-dimse';

const limits = { maxConnections: 4, maxConnectionsPerAddress: 3, associationRequestTimeoutMs: 1000, idleTimeoutMs: 5000 };

describe('ConnectionTable (connection caps, ARTIM and idle deadlines)', () => {
  it('makes the oldest unassociated connection give way at the total cap, not-yet-requested ones first', () => {
    const t = new ConnectionTable<string>(limits);
    t.add('a', '10.0.0.1', 0);
    t.add('b', '10.0.0.2', 1);
    t.add('c', '10.0.0.3', 2);
    t.add('d', '10.0.0.4', 3);
    t.setPhase('a', 'requested');
    const adm = t.admit('10.0.0.9');
    assert.ok(adm.admit);
    assert.deepEqual(adm.evict.map((c) => c.handle), ['b'], 'b is the oldest that has not sent its request');
  });

  it('never evicts associated connections: refuses when all are associated', () => {
    const t = new ConnectionTable<string>(limits);
    for (const h of ['a', 'b', 'c', 'd']) {
      t.add(h, `10.0.0.${h}`, 0);
      t.setPhase(h, 'associated');
    }
    const adm = t.admit('10.0.0.9');
    assert.equal(adm.admit, false);
  });

  it('applies the per-address cap within the address, and both caps at once', () => {
    const t = new ConnectionTable<string>(limits);
    t.add('x1', '10.0.0.1', 0);
    t.add('x2', '10.0.0.1', 1);
    t.add('x3', '10.0.0.1', 2);
    t.setPhase('x1', 'associated');
    let adm = t.admit('10.0.0.1');
    assert.ok(adm.admit);
    assert.deepEqual(adm.evict.map((c) => c.handle), ['x2']);
    t.setPhase('x2', 'associated');
    t.setPhase('x3', 'associated');
    adm = t.admit('10.0.0.1');
    assert.equal(adm.admit, false, 'all three from the address are associated');
    t.add('y', '10.0.0.2', 5);
    adm = t.admit('10.0.0.3');
    assert.ok(adm.admit);
    assert.deepEqual(adm.evict.map((c) => c.handle), ['y'], 'total cap: the only unassociated one gives way');
  });

  it('expires unassociated connections at the request deadline and associated ones at the idle limit, busy ones never', () => {
    const t = new ConnectionTable<string>({ ...limits, maxConnections: 10 });
    t.add('slow', 'a', 0);
    t.add('assoc', 'b', 0);
    t.setPhase('assoc', 'associated');
    t.add('busy', 'c', 0);
    t.setPhase('busy', 'associated');
    assert.deepEqual(t.expired(999, () => false), []);
    assert.deepEqual(t.expired(1000, () => false).map((e) => [e.connection.handle, e.why]), [['slow', 'association-request-timeout']]);
    t.remove('slow');
    t.pduReceived('assoc', 3000);
    assert.deepEqual(t.expired(7999, (h) => h === 'busy').map((e) => e.connection.handle), []);
    assert.deepEqual(t.expired(8000, (h) => h === 'busy').map((e) => [e.connection.handle, e.why]), [['assoc', 'idle-timeout']]);
  });

  it('phases only move forward', () => {
    const t = new ConnectionTable<string>(limits);
    t.add('a', 'x', 0);
    t.setPhase('a', 'associated');
    t.setPhase('a', 'requested');
    assert.equal(t.get('a')!.phase, 'associated');
  });
});

describe('PduFrameChecker association request completeness', () => {
  it('is complete only once the whole A-ASSOCIATE-RQ arrived, not at its header', () => {
    const c = new PduFrameChecker({ maxPDataLength: 16384, maxControlLength: 65536 });
    const rq = associateRq('A', 'B');
    assert.equal(c.push(rq.subarray(0, 10)), undefined);
    assert.equal(c.associationRequested, true);
    assert.equal(c.associationRequestComplete, false);
    for (let i = 10; i < rq.length - 1; i++) c.push(rq.subarray(i, i + 1));
    assert.equal(c.associationRequestComplete, false);
    c.push(rq.subarray(rq.length - 1));
    assert.equal(c.associationRequestComplete, true);
  });
});

describe('MessageGuard (bounded memory per association)', () => {
  const g = () => new MessageGuard({ maxBufferedBytes: 1000 });
  it('aborts P-DATA before the association was accepted', () => {
    assert.deepEqual(g().push(pdata(1, true, true, commandSet(0x0030, 0x0101)), false), { kind: 'data-before-acceptance' });
  });
  it('passes a C-ECHO without a data set and refuses one announcing a data set at its command', () => {
    const m = g();
    assert.equal(m.push(pdata(1, true, true, commandSet(0x0030, 0x0101)), true), undefined);
    assert.deepEqual(m.push(pdata(1, true, true, commandSet(0x0030, 0x0000)), true), { kind: 'data-set-not-allowed', commandField: 0x0030 });
  });
  it('caps the data set of a buffered message but not a C-STORE data set', () => {
    const m = g();
    assert.equal(m.push(pdata(1, true, true, commandSet(0x0020, 0x0000)), true), undefined);
    assert.equal(m.push(pdata(1, false, false, Buffer.alloc(600)), true), undefined);
    assert.deepEqual(m.push(pdata(1, false, false, Buffer.alloc(600)), true), { kind: 'message-too-large', bytes: 1200 });
    const s = g();
    assert.equal(s.push(pdata(3, true, true, commandSet(0x0001, 0x0000, '1.2.840.10008.5.1.4.1.1.4')), true), undefined);
    for (let i = 0; i < 10; i++) assert.equal(s.push(pdata(3, false, i === 9, Buffer.alloc(600)), true), undefined);
    assert.equal(s.push(pdata(1, true, true, commandSet(0x0030, 0x0101)), true), undefined, 'the next message starts clean');
  });
  it('refuses data without a command, a command inside a data set, and an overlong command set', () => {
    assert.equal(g().push(pdata(1, false, true, Buffer.alloc(10)), true)?.kind, 'unexpected-fragment');
    const m = g();
    m.push(pdata(1, true, true, commandSet(0x0020, 0x0000)), true);
    assert.equal(m.push(pdata(1, true, true, commandSet(0x0030, 0x0101)), true)?.kind, 'unexpected-fragment');
    const long = g();
    let v;
    for (let i = 0; i < 20 && !v; i++) v = long.push(pdata(1, true, false, Buffer.alloc(4096)), true);
    assert.equal(v?.kind, 'command-too-long');
  });
});
