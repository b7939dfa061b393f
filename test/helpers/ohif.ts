/**
 * The real OHIF viewer (npm @ohif/app 3.13.2's prebuilt dist, fetched and patched by scripts/ensure-viewer.sh
 * into .cache/ohif/) served by Orthanc's ServeFolders plugin under /ohif next to its DICOMweb plugin (one
 * origin), driven by Debian's chromium through playwright-core (headless, no sandbox, SwiftShader WebGL).
 *
 * `viewerRigMissing()` says why the rig cannot run (tests skip with that message); `startViewerOrthanc()`
 * starts such an Orthanc; `openViewer()` launches chromium, collects page errors, console errors and OHIF's
 * red "Something went wrong" notifications, and `waitForPixels()` waits until a cornerstone viewport shows a
 * non-uniform image (real pixels, not the page shell).
 */
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ORTHANC_SERVE_FOLDERS_PLUGIN, startOrthanc, type Orthanc, type OrthancOptions } from './orthanc';

// page.evaluate() callbacks run in the browser; the project compiles without the DOM library.
declare const document: { querySelectorAll(s: string): ArrayLike<{ textContent: string | null }>; body: { innerText: string } };
declare const window: unknown;

export const OHIF_VERSION = '3.13.2';
/** dist/test/helpers -> the project root's .cache/ohif/<version>/dist. */
export const OHIF_DIST = path.resolve(__dirname, '..', '..', '..', '.cache', 'ohif', OHIF_VERSION, 'dist');
export const CHROMIUM = '/usr/bin/chromium';

/** Why the real-viewer rig cannot run here, or undefined when it can. */
export function viewerRigMissing(): string | undefined {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} missing (Debian chromium; scripts/ensure-viewer.sh installs it as root)`;
  if (!existsSync(path.join(OHIF_DIST, '.patched-ohif'))) return `OHIF dist missing in ${OHIF_DIST} (run scripts/ensure-viewer.sh)`;
  if (!existsSync(ORTHANC_SERVE_FOLDERS_PLUGIN)) return `${ORTHANC_SERVE_FOLDERS_PLUGIN} missing (Debian orthanc)`;
  try {
    require.resolve('playwright-core');
  } catch {
    return 'playwright-core not installed (npm install)';
  }
  return undefined;
}

/**
 * Orthanc with DICOMweb and the OHIF dist on /ohif. Orthanc 1.10's ServeFolders takes a file's extension
 * from the last "." of its whole path, so the extension-less `viewer` under .cache/ohif/3.13.2/ would get
 * the "extension" ".2/dist/viewer": the folder is served through a dot-free symlink in the temp dir.
 */
export async function startViewerOrthanc(opts: OrthancOptions = {}): Promise<Orthanc> {
  const linkDir = mkdtempSync(path.join(os.tmpdir(), 'npcai-ohif-'));
  const served = path.join(linkDir, 'dist');
  if (served.includes('.')) throw new Error(`temp dir ${served} has a "." (ServeFolders would mistype the viewer route)`);
  symlinkSync(OHIF_DIST, served);
  try {
    const o = await startOrthanc({
      ...opts,
      extraPlugins: [ORTHANC_SERVE_FOLDERS_PLUGIN],
      // Orthanc 1.10: folders under "Folders" when "Extensions" is given; key "." types files without an
      // extension (the copy of index.html named viewer) as HTML (a key "" is logged as "." but does not match).
      extraConfig: { ServeFolders: { Folders: { '/ohif': served }, Extensions: { '.': 'text/html', '.wasm': 'application/wasm' } }, ...opts.extraConfig },
    });
    const cleanup = o.cleanup;
    o.cleanup = async () => {
      await cleanup();
      rmSync(linkDir, { recursive: true, force: true });
    };
    return o;
  } catch (e) {
    rmSync(linkDir, { recursive: true, force: true });
    throw e;
  }
}

export interface ViewerSession {
  browser: Browser;
  page: Page;
  /** Page errors, console errors and OHIF error notifications seen so far. */
  errors: string[];
  /** Loads /ohif/viewer?StudyInstanceUIDs=<uid> (a fresh page state per call). */
  openStudy(studyInstanceUid: string): Promise<void>;
  close(): Promise<void>;
}

/** Console noise of a headless, offline browser that says nothing about our objects. */
const BENIGN = [/favicon/i, /service ?worker/i, /Failed to load resource.*(manifest|sw\.js|init-service-worker)/i, /GPU stall/i, /WebGL/i];

export async function openViewer(orthanc: Orthanc, opts: { width?: number; height?: number } = {}): Promise<ViewerSession> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { chromium } = require('playwright-core') as typeof import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'] });
  const page = await browser.newPage({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    if (!BENIGN.some((b) => b.test(text))) errors.push(`console: ${text}`);
  });
  return {
    browser,
    page,
    errors,
    async openStudy(studyInstanceUid: string) {
      await page.goto(`${orthanc.url}/ohif/viewer?StudyInstanceUIDs=${encodeURIComponent(studyInstanceUid)}`, { waitUntil: 'load' });
      // OHIF 3.13 greets a first visit with an onboarding tour over the viewport ("Skip all").
      const skip = page.getByText('Skip all', { exact: true });
      if (await skip.waitFor({ timeout: 5000 }).then(() => true, () => false)) await skip.click();
    },
    async close() {
      await browser.close();
    },
  };
}

/** Texts of OHIF's error notifications ("Something went wrong", failed loads) now on the page. */
export async function errorNotifications(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const el of Array.from(document.querySelectorAll('[role="alert"], .sonner-toast[data-type="error"], [data-type="error"]'))) {
      const t = (el.textContent ?? '').trim();
      if (t) out.push(t);
    }
    if (/Something went wrong/.test(document.body.innerText)) out.push('Something went wrong');
    return out;
  });
}

export interface ViewportPixels {
  id: string;
  imageId?: string;
  /** Distinct grey levels sampled from its canvas (1 = uniform: nothing drawn). */
  distinct: number;
}

/** Every cornerstone viewport on the page with how much its canvas varies. */
export async function viewportPixels(page: Page): Promise<ViewportPixels[]> {
  return page.evaluate(() => {
    const cs = (window as unknown as { cornerstone?: { getRenderingEngines?: () => { getViewports(): { id: string; canvas: { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null }; getCurrentImageId?: () => string }[] }[] } }).cornerstone;
    const out: { id: string; imageId?: string; distinct: number }[] = [];
    for (const engine of cs?.getRenderingEngines?.() ?? []) {
      for (const vp of engine.getViewports()) {
        const canvas = vp.canvas;
        const ctx = canvas.getContext('2d');
        let distinct = 0;
        if (ctx && canvas.width && canvas.height) {
          const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
          const seen = new Set<number>();
          const step = Math.max(4, Math.floor(data.length / 4 / 20000) * 4);
          for (let i = 0; i < data.length && seen.size < 64; i += step) seen.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
          distinct = seen.size;
        }
        let imageId: string | undefined;
        try {
          imageId = vp.getCurrentImageId?.();
        } catch {
          imageId = undefined;
        }
        out.push({ id: vp.id, ...(imageId ? { imageId } : {}), distinct });
      }
    }
    return out;
  });
}

/** Waits until some viewport (optionally whose image id matches) shows real pixels; returns the viewports. */
export async function waitForPixels(page: Page, opts: { timeoutMs?: number; imageId?: RegExp } = {}): Promise<ViewportPixels[]> {
  const deadline = Date.now() + (opts.timeoutMs ?? 45_000);
  let last: ViewportPixels[] = [];
  for (;;) {
    last = await viewportPixels(page).catch(() => []);
    if (last.some((v) => v.distinct > 8 && v.imageId !== undefined && (!opts.imageId || opts.imageId.test(v.imageId)))) return last;
    if (Date.now() > deadline) throw new Error(`no viewport with real pixels within ${opts.timeoutMs ?? 45_000} ms: ${JSON.stringify(last)}`);
    await page.waitForTimeout(250);
  }
}
