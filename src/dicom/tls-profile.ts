/**
 * The DICOM TLS profile of every listener and client of the node: PS3.15 Annex B.9 "BCP 195" (RFC 9325):
 * TLS 1.2 or 1.3 only, and for TLS 1.2 only the BCP 195 recommended AEAD suites with forward secrecy
 * (TLS 1.3 suites are all AEAD). PEM files are read once, when a listener or connection is set up.
 */
import { readFileSync } from 'node:fs';
import type tls from 'node:tls';

/** TLS 1.3 suites, then the BCP 195 TLS 1.2 suites (OpenSSL names). */
export const BCP195_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
].join(':');

export const BCP195_MIN_VERSION: tls.SecureVersion = 'TLSv1.2';

/** The profile's protocol settings, for tls.createServer / tls.connect / https. */
export function bcp195Options(): Pick<tls.SecureContextOptions, 'minVersion' | 'ciphers' | 'honorCipherOrder'> {
  return { minVersion: BCP195_MIN_VERSION, ciphers: BCP195_CIPHERS, honorCipherOrder: true };
}

/** Reads a PEM file named in the configuration; the error names the key and the file. */
export function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`${what}: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** TLS files of a DICOM client (a DIMSE destination's `tls`). */
export interface ClientTlsFiles {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  rejectUnauthorized?: boolean | undefined;
}

/** dcmjs-dimse Client `securityOptions` for a destination's `tls` (BCP 195 profile). Throws when a file cannot be read. */
export function clientSecurityOptions(t: ClientTlsFiles): {
  key?: Buffer;
  cert?: Buffer;
  ca?: Buffer;
  rejectUnauthorized: boolean;
  minVersion: string;
  ciphers: string;
} {
  return {
    ...(t.keyFile ? { key: readPem(t.keyFile, 'tls.keyFile') } : {}),
    ...(t.certFile ? { cert: readPem(t.certFile, 'tls.certFile') } : {}),
    ...(t.caFile ? { ca: readPem(t.caFile, 'tls.caFile') } : {}),
    rejectUnauthorized: t.rejectUnauthorized ?? true,
    minVersion: BCP195_MIN_VERSION,
    ciphers: BCP195_CIPHERS,
  };
}
