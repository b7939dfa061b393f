/**
 * Renders what a radiologist sees for one generated study with the shipped models: every heat-map
 * Secondary Capture the node would send, as PNG (docs/images/node-sc-*.png), plus the SR as dsrdump text.
 * `node dist/tools/render-study-heat-maps.js [--seed 4246] [--out docs/images]`
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import * as dcmjs from 'dcmjs';
import { loadConfig } from '../src/config/load';
import { ModelRegistry } from '../src/infer/model-registry';
import { silentLogger } from '../src/logging/logger';
import { WorkerPool } from '../src/prepare';
import { writeCohort } from '../src/synth/cohort';
import { analyseStudy } from '../src/pipeline/analyse-study';
import { encodeResults } from '../src/pipeline/encode-results';
import { nodeDeviceIdentity } from '../src/pipeline/device-identity';
import { instancesFromFiles, listDicomFiles } from '../src/pipeline/instances-from-files';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seed: { type: 'string', default: '4246' }, out: { type: 'string', default: 'docs/images' } } });
  const config = loadConfig({ env: { NPC_EXECUTION_PROVIDERS: 'cpu' } });
  const models = await ModelRegistry.load(config.models, silentLogger());
  const pool = new WorkerPool();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'npcai-render-'));
  try {
    writeCohort(dir, { patients: 1, seed: Number(values.seed), matrix: 512 });
    const files = (await listDicomFiles(dir)).filter((f) => !f.includes(`${path.sep}masks${path.sep}`));
    const { instances } = await instancesFromFiles(files, { acceptedTransferSyntaxes: new Set(config.dimse.transferSyntaxes) });
    const a = await analyseStudy({ studyInstanceUid: instances[0]!.studyInstanceUid, instances, analyses: ['stage', 'dmfs', 'msom', 'residual', 'progression'] }, { models, rules: config.selection.rules, pool });
    const out = await encodeResults({ studyHeader: a.studyHeader, results: a.results, volumes: a.volumes, instances, generation: 1, device: nodeDeviceIdentity('NPCAI'), srSopClass: 'comprehensive3d', scSopClass: 'sc', contentDateTime: new Date('2026-11-23T00:00:00Z') });
    mkdirSync(values.out!, { recursive: true });
    for (const o of out) {
      const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(o.buffer.buffer.slice(o.buffer.byteOffset, o.buffer.byteOffset + o.buffer.byteLength) as ArrayBuffer).dict) as { PixelData?: ArrayBuffer[]; Rows: number; Columns: number };
      if (o.kind === 'sc' && ds.PixelData) {
        const file = path.join(values.out!, `node-sc-${o.analysis}.png`);
        await sharp(Buffer.from(ds.PixelData[0]!), { raw: { width: ds.Columns, height: ds.Rows, channels: 3 } }).png().toFile(file);
        console.log(file);
      } else if (o.kind === 'sr') {
        writeFileSync(path.join(dir, 'sr.dcm'), o.buffer);
        console.log(`SR ${o.buffer.length} bytes`);
      }
    }
    for (const r of a.results) console.log(`${r.analysis}: ${r.assessable ? `${r.valueText} p=${r.probability.toFixed(3)}` : `not assessable: ${r.reason}`}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await pool.close();
    await models.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
