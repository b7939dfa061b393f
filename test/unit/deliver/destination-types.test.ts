import assert from 'node:assert/strict';
import net from 'node:net';
import { DestinationSchema, DicomwebDestinationSchema, DimseDestinationSchema, type Destination, type DestinationType } from '../../../src/core/destination-schemas';
import {
  DESTINATION_TYPES,
  DeliveryTargetSchema,
  describeTarget,
  destinationType,
  echoDestination,
  keptOnUpdate,
  publicDestination,
  targetFromDestination,
} from '../../../src/deliver/destination-types';

const dimse = DimseDestinationSchema.parse({ name: 'pacs', type: 'dimse', aeTitle: 'PACS', host: '127.0.0.1', port: 104 });
const web = DicomwebDestinationSchema.parse({ name: 'web', type: 'dicomweb', url: 'http://127.0.0.1:1/dicom-web', authorization: 'Bearer s3cret' });
const EXAMPLES: Record<DestinationType, Destination> = { dimse, dicomweb: web };

describe('destination types', () => {
  it('has one module, with schema, target, send, echo and public view, for every type the config accepts', () => {
    const configured = DestinationSchema.options.map((o) => o.shape.type.value).sort();
    assert.deepEqual(Object.keys(DESTINATION_TYPES).sort(), configured);
    const targets = DeliveryTargetSchema.options.map((o) => o.shape.type.value).sort();
    assert.deepEqual(targets, configured, 'every type has a target schema in the job payload');
    for (const type of configured) {
      const m = destinationType(type);
      assert.equal(m.type, type);
      assert.ok(DestinationSchema.options.some((o) => o === m.schema), `${type}: the module's schema is the config's`);
      for (const fn of ['target', 'describe', 'send', 'echo', 'publicView', 'credentials', 'keptOnUpdate'] as const) {
        assert.equal(typeof m[fn], 'function', `${type}.${fn}`);
      }
      const target = targetFromDestination(EXAMPLES[type], 'NPCAI');
      assert.equal(target.type, type);
      assert.deepEqual(DeliveryTargetSchema.parse(target), target, `${type}: its target round-trips through the job payload`);
      assert.ok(describeTarget(target).length > 0);
    }
  });

  it('refuses a type no module has instead of falling through to another protocol', () => {
    assert.throws(() => destinationType('dicom-over-carrier-pigeon' as DestinationType), /unknown destination type "dicom-over-carrier-pigeon"/);
  });

  it('builds each type\'s target and description', () => {
    assert.deepEqual(targetFromDestination(dimse, 'NPCAI'), {
      type: 'dimse', key: 'pacs', origin: 'destination', aeTitle: 'PACS', host: '127.0.0.1', port: 104, callingAeTitle: 'NPCAI',
    });
    assert.equal(describeTarget(targetFromDestination(dimse, 'NPCAI')), 'C-STORE to PACS@127.0.0.1:104 as NPCAI');
    const webTarget = targetFromDestination(web, 'NPCAI');
    assert.deepEqual(webTarget, { type: 'dicomweb', key: 'web', origin: 'destination', url: 'http://127.0.0.1:1/dicom-web' });
    assert.equal(JSON.stringify(webTarget).includes('s3cret'), false, 'credentials are never recorded in a target');
    assert.equal(describeTarget(webTarget), 'STOW-RS to http://127.0.0.1:1/dicom-web');
  });

  it('never shows a DICOMweb secret, and keeps it on an update without one', () => {
    const shown = publicDestination(web);
    assert.equal(JSON.stringify(shown).includes('s3cret'), false);
    assert.equal(shown.hasAuthorization, true);
    assert.deepEqual(publicDestination(dimse), dimse);
    assert.deepEqual(keptOnUpdate(web, { type: 'dicomweb', url: 'http://x/dw' }), { authorization: 'Bearer s3cret' });
    assert.deepEqual(keptOnUpdate(web, { type: 'dicomweb', url: 'http://x/dw', authorization: 'Bearer new' }), {});
    assert.deepEqual(keptOnUpdate(web, { type: 'dimse' }), {});
    assert.deepEqual(keptOnUpdate(dimse, { type: 'dimse' }), {});
  });

  it('echoes each type by its own protocol (a closed loopback port answers a network error, never a throw)', async function () {
    this.timeout(20_000);
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const closed: Record<DestinationType, Destination> = {
      dimse: { ...dimse, port },
      dicomweb: { ...web, url: `http://127.0.0.1:${port}/dicom-web` },
    };
    for (const d of Object.values(closed)) {
      const r = await echoDestination(d, { callingAeTitle: 'NPCAI', timeoutSeconds: 5 });
      assert.equal(r.ok, false, d.type);
      assert.match(r.message, /ECONNREFUSED/, d.type);
      assert.equal(typeof r.ms, 'number');
    }
  });
});
