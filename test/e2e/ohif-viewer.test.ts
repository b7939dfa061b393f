/**
 * The real OHIF viewer (3.13.2, prebuilt dist from npm, served by Orthanc under /ohif next to DICOMweb)
 * opens what the node writes: an MR study, the localiser's SEG over its CE-T1 series and a heat-map
 * Secondary Capture, without page errors, console errors or "Something went wrong", with real pixels.
 * Skips (saying why) when chromium or the OHIF dist is missing and scripts/ensure-viewer.sh could not
 * install them. Screenshots go to $OHIF_SCREENSHOT_DIR (docs/images when renewing the committed ones),
 * else to a temp dir.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import type { AssessedResult } from '../../src/analyses/types';
import { encodeSegmentation, type EncodedSegmentation } from '../../src/encode/seg/encode-segmentation';
import { encodeHeatMapCapture } from '../../src/encode/sc/encode-heat-map-capture';
import type { EncodedObject } from '../../src/encode/types';
import { analysisResults, device, syntheticSlice } from '../fixtures/encode/analysis-fixture';
import { segmentationFixture } from '../fixtures/encode/segmentation-fixture';
import { errorNotifications, openViewer, startViewerOrthanc, viewerRigMissing, waitForPixels, type ViewerSession } from '../helpers/ohif';
import { orthancUpload, type Orthanc } from '../helpers/orthanc';
import { tempDir } from '../helpers/temp-dir';

const SHOTS = process.env.OHIF_SCREENSHOT_DIR ? path.resolve(process.env.OHIF_SCREENSHOT_DIR) : mkdtempSync(path.join(os.tmpdir(), 'npcai-ohif-shots-'));

/** Pixels of a PNG that are clearly red (the GTV segment's colour) or yellow (GTVln). */
async function colouredPixels(png: Buffer): Promise<{ red: number; yellow: number }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let red = 0;
  let yellow = 0;
  for (let i = 0; i < info.width * info.height * 3; i += 3) {
    const r = data[i]!, g = data[i + 1]!, b = data[i + 2]!;
    if (r > 150 && g < 90 && b < 90) red++;
    if (r > 150 && g > 150 && b < 90) yellow++;
  }
  return { red, yellow };
}

describe('OHIF viewer shows the node\'s objects (real viewer, headless chromium)', function () {
  this.timeout(240_000);
  let orthanc: Orthanc | undefined;
  let session: ViewerSession | undefined;
  let studyUid: string;
  let seg: EncodedSegmentation;
  let heatMap: EncodedObject;
  let cleanup: () => void = () => undefined;

  before(async function () {
    const missing = viewerRigMissing();
    if (missing) {
      console.log(`    skipped: ${missing}`);
      this.skip();
    }
    mkdirSync(SHOTS, { recursive: true });
    const tmp = tempDir('npcai-ohif-');
    cleanup = tmp.cleanup;
    const fixture = await segmentationFixture(tmp.dir, { rows: 128, columns: 128 });
    studyUid = fixture.input.study.StudyInstanceUID as string;
    seg = encodeSegmentation(fixture.input);
    const result = { ...(analysisResults()[1] as AssessedResult), studyInstanceUid: studyUid };
    const keyImage = result.keyImages[0]!;
    heatMap = await encodeHeatMapCapture({
      study: fixture.input.study,
      result,
      keyImage,
      slice: syntheticSlice(keyImage.image),
      generation: 1,
      device: device(),
      scSopClass: 'sc',
      sourceHeader: fixture.header,
    });
    orthanc = await startViewerOrthanc();
    for (const f of fixture.studyFiles) await orthancUpload(orthanc, readFileSync(f));
    await orthancUpload(orthanc, seg.buffer);
    await orthancUpload(orthanc, heatMap.buffer);
    session = await openViewer(orthanc);
  });

  after(async () => {
    await session?.close();
    await orthanc?.cleanup();
    cleanup();
  });

  afterEach(async function () {
    if (session && this.currentTest?.state === 'failed') {
      await session.page.screenshot({ path: path.join(SHOTS, `ohif-failed-${Date.now()}.png`) }).catch(() => undefined);
      console.log(`    errors: ${JSON.stringify(session.errors)}\n    screenshots in ${SHOTS}`);
    }
  });

  async function openSeries(text: RegExp | string): Promise<void> {
    const s = session!;
    await s.openStudy(studyUid);
    await waitForPixels(s.page);
    const thumb = s.page.locator('[data-cy^="study-browser-thumbnail"]').filter({ hasText: text }).first();
    await thumb.waitFor({ timeout: 30_000 });
    await thumb.dblclick();
  }

  async function assertNoErrors(): Promise<void> {
    const s = session!;
    assert.deepEqual([...s.errors, ...(await errorNotifications(s.page))], []);
  }

  it('renders the MR study', async () => {
    const s = session!;
    await s.openStudy(studyUid);
    const vps = await waitForPixels(s.page);
    assert.ok(vps.length >= 1);
    await s.page.screenshot({ path: path.join(SHOTS, 'ohif-mr.png') });
    await assertNoErrors();
  });

  it('opens the SEG over its CE-T1 series (badge, both segments drawn)', async () => {
    const s = session!;
    await openSeries('SEG');
    await s.page.locator('[data-cy^="ModalityLoadBadge"]').first().waitFor({ timeout: 30_000 });
    // OHIF previews the SEG and asks "Do you want to open this Segmentation?": say Yes (hydrate it).
    const yes = s.page.locator('[data-cy="viewport-notification"]').getByRole('button', { name: 'Yes' });
    await yes.waitFor({ timeout: 30_000 });
    await yes.click();
    await s.page.waitForTimeout(1500);
    // Walk the slices (arrow keys) and count the segments' colours inside the viewport only:
    // red = GTV (slices 2-4 of 6), yellow = GTVln (slices 4-5).
    const viewport = s.page.locator('canvas.cornerstone-canvas').first();
    await viewport.hover({ force: true });
    for (let i = 0; i < 6; i++) await s.page.keyboard.press('ArrowUp');
    const seen: { red: number; yellow: number }[] = [];
    let best: { score: number; png: Buffer; page: Buffer } | undefined;
    for (let i = 0; i < 6; i++) {
      if (i > 0) await s.page.keyboard.press('ArrowDown');
      await s.page.waitForTimeout(700);
      const png = await viewport.screenshot();
      const c = await colouredPixels(png);
      seen.push(c);
      const score = Math.min(c.red, c.yellow) * 1e6 + c.red + c.yellow;
      if (!best || score > best.score) best = { score, png, page: await s.page.screenshot() };
    }
    // The slice showing both segments: the whole page, and the viewport alone.
    if (best) {
      writeFileSync(path.join(SHOTS, 'ohif-seg-overlay.png'), best.page);
      writeFileSync(path.join(SHOTS, 'ohif-seg-viewport.png'), best.png);
    }
    assert.ok(seen.some((c) => c.red >= 20), `GTV (red) drawn on some slice: ${JSON.stringify(seen)}`);
    assert.ok(seen.some((c) => c.yellow >= 20), `GTVln (yellow) drawn on some slice: ${JSON.stringify(seen)}`);
    assert.ok(seen.some((c) => c.red < 20 && c.yellow < 20), `slices without a segment stay clear: ${JSON.stringify(seen)}`);
    await assertNoErrors();
  });

  it('renders the heat-map Secondary Capture', async () => {
    const s = session!;
    await openSeries(/heat maps|OT/i);
    await waitForPixels(s.page, { imageId: new RegExp(heatMap.sopInstanceUid.replace(/\./g, '\\.')) });
    await s.page.waitForTimeout(500);
    await s.page.screenshot({ path: path.join(SHOTS, 'ohif-heat-map.png') });
    await assertNoErrors();
  });
});
