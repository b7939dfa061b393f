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
import { readFileSync } from 'node:fs';
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

  it('opens the SEG over its CE-T1 series (badge and overlay)', async () => {
    const s = session!;
    await openSeries('SEG');
    await s.page.locator('[data-cy^="ModalityLoadBadge"]').first().waitFor({ timeout: 30_000 });
    // The overlay: red (GTV) pixels in the viewport, drawn once the segmentation has loaded.
    let shot: Buffer;
    let colours = { red: 0, yellow: 0 };
    for (let i = 0; i < 40 && colours.red < 20; i++) {
      await s.page.waitForTimeout(500);
      shot = await s.page.screenshot();
      colours = await colouredPixels(shot);
    }
    await s.page.screenshot({ path: path.join(SHOTS, 'ohif-seg-overlay.png') });
    assert.ok(colours.red >= 20, `SEG overlay drawn (red pixels: ${colours.red})`);
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
