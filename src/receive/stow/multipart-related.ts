/**
 * A small streaming parser for multipart/related bodies (RFC 2387 on RFC 2046 5.1): each part's body is
 * written to a Writable supplied per part, with backpressure, so parts of any size never sit in memory.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

export class MultipartError extends Error {
  constructor(
    message: string,
    readonly httpStatus = 400,
  ) {
    super(message);
    this.name = 'MultipartError';
  }
}

export interface ContentType {
  mediaType: string;
  params: Record<string, string>;
}

/** Parses `multipart/related; type="application/dicom"; boundary=xyz` (parameter names lower-cased). */
export function parseContentType(header: string | undefined): ContentType | undefined {
  if (!header) return undefined;
  const [type, ...rest] = splitParams(header);
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    params[p.slice(0, eq).trim().toLowerCase()] = v;
  }
  return { mediaType: (type ?? '').trim().toLowerCase(), params };
}

function splitParams(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"' && s[i - 1] !== '\\') quoted = !quoted;
    if (c === ';' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

export interface PartHandler {
  /** Called with the part's headers (names lower-cased); returns where its body goes. */
  part(headers: Record<string, string>): Writable;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEADER_BYTES = 16 * 1024;

/** Streams `body` into per-part sinks. Resolves with the number of parts; throws MultipartError. */
export async function parseMultipart(body: AsyncIterable<Buffer>, boundary: string, handler: PartHandler, maxBytes: number): Promise<number> {
  if (!boundary || boundary.length > 70) throw new MultipartError('missing or invalid multipart boundary');
  const dashBoundary = Buffer.from(`--${boundary}`, 'latin1');
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  let buf: Buffer = Buffer.alloc(0);
  type State = 'preamble' | 'after-boundary' | 'headers' | 'body' | 'end';
  let state = 'preamble' as State;
  let sink: Writable | undefined;
  let parts = 0;
  let total = 0;

  const write = async (data: Buffer) => {
    if (data.length === 0 || !sink) return;
    if (!sink.write(data)) await Promise.race([once(sink, 'drain'), finished(sink)]);
  };

  const step = async (): Promise<void> => {
    for (;;) {
      switch (state) {
        case 'preamble': {
          const idx = buf.indexOf(dashBoundary);
          if (idx < 0) {
            if (buf.length > dashBoundary.length) buf = buf.subarray(buf.length - dashBoundary.length);
            return;
          }
          buf = buf.subarray(idx + dashBoundary.length);
          state = 'after-boundary';
          break;
        }
        case 'after-boundary': {
          if (buf.length < 2) return;
          if (buf[0] === 0x2d && buf[1] === 0x2d) {
            state = 'end';
            return;
          }
          if (buf[0] === 0x20 || buf[0] === 0x09) {
            buf = buf.subarray(1); // transport padding
            break;
          }
          if (!buf.subarray(0, 2).equals(CRLF)) throw new MultipartError('malformed multipart boundary line');
          buf = buf.subarray(2);
          state = 'headers';
          break;
        }
        case 'headers': {
          const idx = buf.indexOf(HEADER_END);
          let headerText: string;
          if (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) {
            headerText = ''; // a part without headers
            buf = buf.subarray(2);
          } else if (idx < 0) {
            if (buf.length > MAX_HEADER_BYTES) throw new MultipartError('multipart part headers too long');
            return;
          } else {
            headerText = buf.subarray(0, idx).toString('latin1');
            buf = buf.subarray(idx + 4);
          }
          const headers: Record<string, string> = {};
          for (const line of headerText.split('\r\n')) {
            const c = line.indexOf(':');
            if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
          }
          sink = handler.part(headers);
          parts += 1;
          state = 'body';
          break;
        }
        case 'body': {
          const idx = buf.indexOf(delimiter);
          if (idx < 0) {
            const safe = buf.length - (delimiter.length - 1);
            if (safe > 0) {
              await write(buf.subarray(0, safe));
              buf = Buffer.from(buf.subarray(safe));
            }
            return;
          }
          await write(buf.subarray(0, idx));
          const s = sink!;
          sink = undefined;
          s.end();
          await finished(s);
          buf = buf.subarray(idx + delimiter.length);
          state = 'after-boundary';
          break;
        }
        case 'end':
          return;
      }
    }
  };

  try {
    for await (const chunk of body) {
      total += chunk.length;
      if (total > maxBytes) throw new MultipartError(`request body larger than ${maxBytes} bytes`, 413);
      if (state === 'end') continue; // epilogue
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      await step();
    }
    if (state !== 'end') throw new MultipartError('multipart body ended before its closing boundary');
    return parts;
  } catch (err) {
    sink?.destroy();
    throw err;
  }
}
