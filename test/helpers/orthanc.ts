/**
 * Orthanc (Debian package, /usr/sbin/Orthanc 1.10) as the PACS in integration and end-to-end tests.
 *
 * `startOrthanc()` writes a JSON config into a fresh temp dir (storage and index there too), picks free TCP
 * ports at run time (unless given), starts Orthanc with its DICOMweb plugin and resolves once GET /system
 * answers (typically 0.2-0.5 s). `stop()` sends SIGTERM (Orthanc 1.10 needs ~2-3 s to wind down its threads), then
 * SIGKILL after 5 s; `start()` starts it again on the same ports and storage (to simulate a PACS outage);
 * `cleanup()` kills it at once and removes the dir.
 *
 * Network exposure: Orthanc 1.10 has no bind-address option, so its sockets listen on all interfaces;
 * "RemoteAccessAllowed": false makes the HTTP side refuse non-loopback clients. Tests only ever connect
 * over 127.0.0.1.
 *
 * REST helpers: orthancUpload, orthancSendStudy (Orthanc as C-STORE SCU, via /modalities/{id}/store),
 * orthancListInstances, orthancFindInstance, orthancGetTags, orthancInstanceFile.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ORTHANC_BINARY = '/usr/sbin/Orthanc';
export const ORTHANC_DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
export const ORTHANC_SERVE_FOLDERS_PLUGIN = '/usr/share/orthanc/plugins/libServeFolders.so';

export interface OrthancModality {
  aeTitle: string;
  host: string;
  port: number;
}

export interface OrthancOptions {
  /** Orthanc's own AE title (default ORTHANC). */
  aeTitle?: string;
  /** Fixed ports (default: free ports found at run time). */
  httpPort?: number;
  dicomPort?: number;
  /** Remote AEs Orthanc knows (for C-STORE SCU from Orthanc, e.g. sending a study to the node). */
  modalities?: Record<string, OrthancModality>;
  /** Seconds without new instances before Orthanc calls a study stable (default 1). */
  stableAgeSeconds?: number;
  /** Do not start it yet (for "destination down" tests: configure the node first, start Orthanc later). */
  deferStart?: boolean;
  /** More plugins to load (e.g. ORTHANC_SERVE_FOLDERS_PLUGIN) and config keys to add or override (e.g. ServeFolders). */
  extraPlugins?: string[];
  extraConfig?: Record<string, unknown>;
}

export interface Orthanc {
  aeTitle: string;
  httpPort: number;
  dicomPort: number;
  /** http://127.0.0.1:<httpPort> */
  url: string;
  /** http://127.0.0.1:<httpPort>/dicom-web (no trailing slash) */
  dicomWebUrl: string;
  dir: string;
  readonly running: boolean;
  /** The running Orthanc's process id (for RSS sampling in the bench), undefined when not running. */
  readonly pid: number | undefined;
  start(): Promise<void>;
  /** SIGTERM (Orthanc takes ~2-3 s to stop its threads), SIGKILL after 5 s; `{ kill: true }` kills at once. */
  stop(opts?: { kill?: boolean }): Promise<void>;
  /** Kills Orthanc (its storage is thrown away, so no graceful stop is needed) and removes its dir. */
  cleanup(): Promise<void>;
  /** The last lines Orthanc printed (for failure messages). */
  logTail(): string;
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startOrthanc(opts: OrthancOptions = {}): Promise<Orthanc> {
  if (!existsSync(ORTHANC_BINARY)) throw new Error(`${ORTHANC_BINARY} missing: install the Debian package orthanc (scripts/ensure-test-peers.sh)`);
  if (!existsSync(ORTHANC_DICOMWEB_PLUGIN)) throw new Error(`${ORTHANC_DICOMWEB_PLUGIN} missing: install the Debian package orthanc-dicomweb`);
  const fixedPorts = opts.httpPort !== undefined || opts.dicomPort !== undefined;
  for (let tries = 0; ; tries++) {
    const o = await createOrthanc(opts);
    if (opts.deferStart) return o;
    try {
      await o.start();
      return o;
    } catch (e) {
      await o.cleanup();
      // Another process may have taken a port between finding and binding it: try other ports.
      if (fixedPorts || tries >= 2) throw e;
    }
  }
}

async function createOrthanc(opts: OrthancOptions): Promise<Orthanc> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'npcai-orthanc-'));
  const aeTitle = opts.aeTitle ?? 'ORTHANC';
  const httpPort = opts.httpPort ?? (await freePort());
  let dicomPort = opts.dicomPort ?? (await freePort());
  while (dicomPort === httpPort) dicomPort = await freePort();
  const storage = path.join(dir, 'storage');
  const config = {
    Name: `test-${aeTitle}`,
    StorageDirectory: storage,
    IndexDirectory: storage,
    HttpServerEnabled: true,
    HttpPort: httpPort,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    DicomServerEnabled: true,
    DicomAet: aeTitle,
    DicomPort: dicomPort,
    DicomCheckCalledAet: false,
    DicomAlwaysAllowEcho: true,
    DicomAlwaysAllowStore: true,
    DicomModalities: Object.fromEntries(Object.entries(opts.modalities ?? {}).map(([k, m]) => [k, [m.aeTitle, m.host, m.port]])),
    DicomScuTimeout: 10,
    DicomAssociationCloseDelay: 0,
    DefaultEncoding: 'Utf8',
    Plugins: [ORTHANC_DICOMWEB_PLUGIN, ...(opts.extraPlugins ?? [])],
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true, Ssl: false },
    StableAge: opts.stableAgeSeconds ?? 1,
    SaveJobs: false,
    OverwriteInstances: false,
    TcpNoDelay: true,
    KeepAlive: false,
    WebDavEnabled: false,
    ...opts.extraConfig,
  };
  const configPath = path.join(dir, 'orthanc.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  let child: ChildProcess | undefined;
  let log = '';
  const url = `http://127.0.0.1:${httpPort}`;

  const o: Orthanc = {
    aeTitle,
    httpPort,
    dicomPort,
    url,
    dicomWebUrl: `${url}/dicom-web`,
    dir,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    get pid() {
      return o.running ? child?.pid : undefined;
    },
    async start() {
      if (o.running) return;
      const c = spawn(ORTHANC_BINARY, [configPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      child = c;
      const append = (b: Buffer) => {
        log = (log + b.toString('utf8')).slice(-20000);
      };
      c.stdout?.on('data', append);
      c.stderr?.on('data', append);
      const exited = new Promise<never>((_, reject) => {
        c.once('exit', (code, signal) => reject(new Error(`Orthanc exited during start (code ${code}, signal ${signal}):\n${log.slice(-3000)}`)));
        c.once('error', (e) => reject(e));
      });
      exited.catch(() => undefined);
      const deadline = Date.now() + 20_000;
      for (;;) {
        const up = await Promise.race([
          fetch(`${url}/system`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false),
          exited,
        ]);
        if (up) break;
        if (Date.now() > deadline) {
          await o.stop({ kill: true });
          throw new Error(`Orthanc did not answer on ${url}/system within 20 s:\n${log.slice(-3000)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const plugins = (await (await fetch(`${url}/plugins`)).json()) as string[];
      if (!plugins.includes('dicom-web')) {
        await o.stop({ kill: true });
        throw new Error(`Orthanc started without its DICOMweb plugin (plugins: ${plugins.join(', ')})`);
      }
    },
    async stop(stopOpts: { kill?: boolean } = {}) {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill(stopOpts.kill ? 'SIGKILL' : 'SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    },
    async cleanup() {
      await o.stop({ kill: true });
      rmSync(dir, { recursive: true, force: true });
    },
    logTail: () => log.slice(-3000),
  };
  return o;
}

/** fetch against Orthanc's REST API; throws with the body on a non-2xx answer. */
export async function orthancRest(o: Orthanc, p: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(`${o.url}${p}`, init);
  if (!res.ok) throw new Error(`Orthanc ${init.method ?? 'GET'} ${p}: HTTP ${res.status} ${await res.text()}`);
  return res;
}

/** Stores a Part 10 file in Orthanc through REST (POST /instances); returns Orthanc's ids. */
export async function orthancUpload(o: Orthanc, data: Buffer): Promise<{ ID: string; ParentStudy: string; Status: string }> {
  const res = await orthancRest(o, '/instances', { method: 'POST', body: data, headers: { 'content-type': 'application/dicom' } });
  return (await res.json()) as { ID: string; ParentStudy: string; Status: string };
}

/**
 * Makes Orthanc send a study (by Study Instance UID) to a DICOM peer with C-STORE, synchronously:
 * registers the peer as modality `name` through REST, then POST /modalities/{name}/store.
 */
export async function orthancSendStudy(o: Orthanc, peer: OrthancModality & { name?: string }, studyInstanceUid: string): Promise<void> {
  const name = peer.name ?? `peer-${peer.aeTitle.toLowerCase().replace(/[^a-z0-9]/g, '')}`;
  await orthancRest(o, `/modalities/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ AET: peer.aeTitle, Host: peer.host, Port: peer.port }),
  });
  const lookup = (await (await orthancRest(o, '/tools/lookup', { method: 'POST', body: studyInstanceUid })).json()) as { ID: string; Type: string }[];
  const study = lookup.find((l) => l.Type === 'Study');
  if (!study) throw new Error(`Orthanc has no study ${studyInstanceUid}`);
  await orthancRest(o, `/modalities/${name}/store`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ Resources: [study.ID], Synchronous: true }),
  });
}

export interface OrthancInstance {
  /** Orthanc's id. */
  id: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
}

/** Every instance Orthanc holds (optionally of one study), with its DICOM UIDs. */
export async function orthancListInstances(o: Orthanc, studyInstanceUid?: string): Promise<OrthancInstance[]> {
  const all = (await (await orthancRest(o, '/instances?expand')).json()) as { ID: string; MainDicomTags: Record<string, string>; ParentSeries: string }[];
  const out: OrthancInstance[] = [];
  const seriesCache = new Map<string, { SeriesInstanceUID: string; StudyInstanceUID: string }>();
  for (const i of all) {
    let s = seriesCache.get(i.ParentSeries);
    if (!s) {
      const series = (await (await orthancRest(o, `/series/${i.ParentSeries}`)).json()) as { MainDicomTags: { SeriesInstanceUID: string }; ParentStudy: string };
      const study = (await (await orthancRest(o, `/studies/${series.ParentStudy}`)).json()) as { MainDicomTags: { StudyInstanceUID: string } };
      s = { SeriesInstanceUID: series.MainDicomTags.SeriesInstanceUID, StudyInstanceUID: study.MainDicomTags.StudyInstanceUID };
      seriesCache.set(i.ParentSeries, s);
    }
    if (studyInstanceUid && s.StudyInstanceUID !== studyInstanceUid) continue;
    out.push({ id: i.ID, sopInstanceUid: i.MainDicomTags.SOPInstanceUID ?? '', seriesInstanceUid: s.SeriesInstanceUID, studyInstanceUid: s.StudyInstanceUID });
  }
  return out;
}

/** Orthanc's id of the instance with this SOP Instance UID, if stored. */
export async function orthancFindInstance(o: Orthanc, sopInstanceUid: string): Promise<string | undefined> {
  const lookup = (await (await orthancRest(o, '/tools/lookup', { method: 'POST', body: sopInstanceUid })).json()) as { ID: string; Type: string }[];
  return lookup.find((l) => l.Type === 'Instance')?.ID;
}

/** The instance's tags by keyword (Orthanc's "simplified" form: strings, sequences as arrays of objects). */
export async function orthancGetTags(o: Orthanc, instanceId: string): Promise<Record<string, unknown>> {
  return (await (await orthancRest(o, `/instances/${instanceId}/simplified-tags`)).json()) as Record<string, unknown>;
}

/** The stored Part 10 file. */
export async function orthancInstanceFile(o: Orthanc, instanceId: string): Promise<Buffer> {
  return Buffer.from(await (await orthancRest(o, `/instances/${instanceId}/file`)).arrayBuffer());
}
