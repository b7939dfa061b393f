import assert from 'node:assert/strict';
import { DestinationSchema, LocalAeTitleSchema, SourceSchema, type Destination, type LocalAeTitle, type Source } from '../../../src/config/schema';
import { resolveRouting, type RoutingSettings } from '../../../src/deliver/routing';

function settings(opts: { locals: unknown[]; sources?: unknown[]; destinations?: unknown[] }): RoutingSettings {
  const locals = new Map(opts.locals.map((l) => LocalAeTitleSchema.parse(l)).map((l): [string, LocalAeTitle] => [l.aeTitle, l]));
  const sources = new Map((opts.sources ?? []).map((s) => SourceSchema.parse(s)).map((s): [string, Source] => [s.aeTitle, s]));
  const dests = new Map((opts.destinations ?? []).map((d) => DestinationSchema.parse(d)).map((d): [string, Destination] => [d.name, d]));
  return { localAeTitle: (a) => locals.get(a), source: (a) => sources.get(a), destination: (n) => dests.get(n) };
}

const pacs = { name: 'pacs1', type: 'dimse', aeTitle: 'PACS1', host: '127.0.0.1', port: 104 };
const web = { name: 'web1', type: 'dicomweb', url: 'http://127.0.0.1:8042/dicom-web', authorization: 'Bearer secret' };

describe('delivery routing', () => {
  it("sends to the local AE title's destinations, calling as that AE title by default", () => {
    const r = resolveRouting({ calledAeTitle: 'NPCAI' }, settings({ locals: [{ aeTitle: 'NPCAI', destinations: ['pacs1', 'web1'] }], destinations: [pacs, web] }));
    assert.deepEqual(r.targets, [
      { type: 'dimse', key: 'pacs1', origin: 'destination', aeTitle: 'PACS1', host: '127.0.0.1', port: 104, callingAeTitle: 'NPCAI' },
      { type: 'dicomweb', key: 'web1', origin: 'destination', url: 'http://127.0.0.1:8042/dicom-web' },
    ]);
    assert.equal(JSON.stringify(r).includes('secret'), false, 'credentials are not recorded in the target');
  });

  it("uses the destination's callingAeTitle when set", () => {
    const r = resolveRouting({ calledAeTitle: 'NPCAI' }, settings({ locals: [{ aeTitle: 'NPCAI', destinations: ['pacs1'] }], destinations: [{ ...pacs, callingAeTitle: 'AIOUT' }] }));
    assert.equal(r.targets[0]!.type === 'dimse' && r.targets[0]!.callingAeTitle, 'AIOUT');
  });

  it('adds the sender when replyToSender is on and the source has a port', () => {
    const r = resolveRouting(
      { calledAeTitle: 'NPCAI', callingAeTitle: 'MODALITY' },
      settings({ locals: [{ aeTitle: 'NPCAI', replyToSender: true }], sources: [{ aeTitle: 'MODALITY', host: '10.1.1.1', port: 4100 }] }),
    );
    assert.deepEqual(r.targets, [{ type: 'dimse', key: 'sender:MODALITY', origin: 'sender', aeTitle: 'MODALITY', host: '10.1.1.1', port: 4100, callingAeTitle: 'NPCAI' }]);
  });

  it('uses the calling address when the source has a port but no host', () => {
    const r = resolveRouting(
      { calledAeTitle: 'NPCAI', callingAeTitle: 'MODALITY', callingHost: '127.0.0.9' },
      settings({ locals: [{ aeTitle: 'NPCAI', replyToSender: true }], sources: [{ aeTitle: 'MODALITY', port: 4100 }] }),
    );
    assert.equal(r.targets[0]!.type === 'dimse' && r.targets[0]!.host, '127.0.0.9');
  });

  it('does not reply to a source without a port, and says why', () => {
    const r = resolveRouting(
      { calledAeTitle: 'NPCAI', callingAeTitle: 'MODALITY' },
      settings({ locals: [{ aeTitle: 'NPCAI', replyToSender: true }], sources: [{ aeTitle: 'MODALITY', host: '10.1.1.1' }] }),
    );
    assert.deepEqual(r.targets, []);
    assert.deepEqual(r.skipped, [{ key: 'sender:MODALITY', reason: 'source has no port' }]);
  });

  it('does not reply to the sender when replyToSender is off', () => {
    const r = resolveRouting(
      { calledAeTitle: 'NPCAI', callingAeTitle: 'MODALITY' },
      settings({ locals: [{ aeTitle: 'NPCAI' }], sources: [{ aeTitle: 'MODALITY', host: '10.1.1.1', port: 4100 }] }),
    );
    assert.deepEqual(r.targets, []);
  });

  it('sends once when the sender is also a configured destination', () => {
    const r = resolveRouting(
      { calledAeTitle: 'NPCAI', callingAeTitle: 'PACS1' },
      settings({ locals: [{ aeTitle: 'NPCAI', destinations: ['pacs1'], replyToSender: true }], sources: [{ aeTitle: 'PACS1', host: '127.0.0.1', port: 104 }], destinations: [pacs] }),
    );
    assert.deepEqual(r.targets.map((t) => t.key), ['pacs1']);
  });

  it('skips disabled and unknown destinations with a reason', () => {
    const r = resolveRouting(
      { calledAeTitle: 'NPCAI' },
      settings({ locals: [{ aeTitle: 'NPCAI', destinations: ['pacs1', 'gone'] }], destinations: [{ ...pacs, enabled: false }] }),
    );
    assert.deepEqual(r.targets, []);
    assert.deepEqual(r.skipped, [
      { key: 'pacs1', reason: 'destination disabled' },
      { key: 'gone', reason: 'destination not configured' },
    ]);
  });

  it('routes nowhere for an unknown local AE title', () => {
    const r = resolveRouting({ calledAeTitle: 'OTHER' }, settings({ locals: [{ aeTitle: 'NPCAI', destinations: ['pacs1'] }], destinations: [pacs] }));
    assert.deepEqual(r.targets, []);
    assert.equal(r.skipped.length, 1);
  });
});
