import assert from 'node:assert/strict';
import { buildMultipartBody, multipartContentType, parseStowResponse, stowEndpoint, isRetryableHttpStatus } from '../../../src/deliver/stow-client';

const A = '1.2.3.1';
const B = '1.2.3.2';
const ref = (uid: string) => ({ '00081155': { vr: 'UI', Value: [uid] } });

describe('STOW-RS client: request body', () => {
  it('frames each file as an application/dicom part between boundaries', () => {
    const body = buildMultipartBody([Buffer.from('DICM-one'), Buffer.from([0, 1, 2, 0xff])], 'XyZ');
    const expected = Buffer.concat([
      Buffer.from('--XyZ\r\nContent-Type: application/dicom\r\nContent-Length: 8\r\n\r\nDICM-one\r\n'),
      Buffer.from('--XyZ\r\nContent-Type: application/dicom\r\nContent-Length: 4\r\n\r\n'),
      Buffer.from([0, 1, 2, 0xff]),
      Buffer.from('\r\n--XyZ--\r\n'),
    ]);
    assert.ok(body.equals(expected));
  });

  it('declares multipart/related with type application/dicom and the boundary', () => {
    assert.equal(multipartContentType('b1'), 'multipart/related; type="application/dicom"; boundary=b1');
  });

  it('appends /studies to the base URL with exactly one slash', () => {
    assert.equal(stowEndpoint('http://h/dicom-web'), 'http://h/dicom-web/studies');
    assert.equal(stowEndpoint('http://h/dicom-web//'), 'http://h/dicom-web/studies');
  });
});

describe('STOW-RS client: response parsing', () => {
  it('counts every instance as stored on 200 with a ReferencedSOPSequence', () => {
    const r = parseStowResponse(200, { '00081199': { vr: 'SQ', Value: [ref(A), ref(B)] } }, [A, B]);
    assert.deepEqual(r.map((x) => x.ok), [true, true]);
  });

  it('fails the instances named in FailedSOPSequence, with the reason', () => {
    const body = {
      '00081199': { vr: 'SQ', Value: [ref(A)] },
      '00081198': { vr: 'SQ', Value: [{ ...ref(B), '00081197': { vr: 'US', Value: [0xc000] } }] },
    };
    const r = parseStowResponse(202, body, [A, B]);
    assert.equal(r[0]!.ok, true);
    assert.equal(r[1]!.ok, false);
    assert.match(r[1]!.message, /FailureReason 49152/);
    assert.equal(r[1]!.permanent, undefined);
  });

  it('treats an instance missing from a 202 response as not stored', () => {
    const r = parseStowResponse(202, { '00081199': { vr: 'SQ', Value: [ref(A)] } }, [A, B]);
    assert.deepEqual(r.map((x) => x.ok), [true, false]);
  });

  it('marks 4xx answers as permanent and 5xx as retryable', () => {
    assert.deepEqual(parseStowResponse(400, undefined, [A]).map((x) => [x.ok, x.permanent]), [[false, true]]);
    assert.deepEqual(parseStowResponse(415, undefined, [A]).map((x) => [x.ok, x.permanent]), [[false, true]]);
    assert.deepEqual(parseStowResponse(503, undefined, [A]).map((x) => [x.ok, x.permanent]), [[false, undefined]]);
    assert.equal(isRetryableHttpStatus(429), true);
    assert.equal(isRetryableHttpStatus(408), true);
    assert.equal(isRetryableHttpStatus(409), false);
  });

  it('counts no instance as stored from a 2xx whose body does not list it (empty, unparseable, malformed)', () => {
    assert.deepEqual(parseStowResponse(200, undefined, [A]).map((x) => x.ok), [false]);
    assert.deepEqual(parseStowResponse(200, 'not json', [A]).map((x) => x.ok), [false]);
    assert.deepEqual(parseStowResponse(200, { '00081198': { Value: 'oops' } }, [A]).map((x) => x.ok), [false]);
    assert.deepEqual(parseStowResponse(204, {}, [A]).map((x) => [x.ok, x.permanent]), [[false, undefined]]);
    assert.deepEqual(parseStowResponse(200, { '00081199': { vr: 'SQ', Value: [ref(A)] } }, [A, B]).map((x) => x.ok), [true, false]);
  });
});
