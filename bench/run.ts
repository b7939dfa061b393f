/**
 * Runs every benchmark module, prints ratios, and writes a JSON + Markdown report to bench/reports/
 * (git-ignored). `BENCH_SUMMARY=1` also writes bench/SUMMARY.md, the summary that is committed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchIngest, type IngestBenchResult } from './ingest';
import { benchInference, inferenceMarkdown } from './inference';

function markdown(r: IngestBenchResult): string {
  const f = (a: number[]) => a.map((x) => x.toFixed(0)).join(', ');
  return [
    `## ingest (C-STORE, storescu sender, ${r.instances} instances of ${(r.instanceBytes / 1048576).toFixed(2)} MB, fsync ${r.fsync ? 'on' : 'off'})`,
    '',
    '| receiver | inst/s per repetition | peak RSS |',
    '| --- | --- | --- |',
    `| node (durable: fsync file + dir, indexed) | ${f(r.nodeInstPerSec)} | ${r.nodePeakRssMb.toFixed(0)} MB (whole bench process) |`,
    `| DCMTK storescp (no fsync) | ${f(r.storescpInstPerSec)} | ${r.storescpPeakRssMb.toFixed(0)} MB |`,
    '',
    `Ratio node / storescp (medians): **${r.ratio.toFixed(2)}x** (target >= 0.5x).`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const started = new Date();
  const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
  console.log(`bench on ${machine}`);
  const ingest = await benchIngest();
  console.log(`ingest: node ${ingest.nodeInstPerSec.map((x) => x.toFixed(0)).join('/')} inst/s, storescp ${ingest.storescpInstPerSec.map((x) => x.toFixed(0)).join('/')} inst/s, ratio ${ingest.ratio.toFixed(2)}x, node peak RSS ${ingest.nodePeakRssMb.toFixed(0)} MB`);
  const inference = await benchInference();
  for (const r of inference) console.log(`inference: ${r.model} on ${r.provider}: ${r.msPerSlice.toFixed(2)} ms/slice (${r.ratioToCpu.toFixed(2)}x cpu)`);
  const report = { started: started.toISOString(), machine, results: [ingest], inference };
  const dir = path.join(process.cwd(), 'bench', 'reports');
  mkdirSync(dir, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const md = `# Benchmark report ${started.toISOString()}\n\n${machine}\n\n${markdown(ingest)}\n${inferenceMarkdown(inference)}`;
  writeFileSync(path.join(dir, `bench-${stamp}.json`), JSON.stringify(report, null, 2));
  writeFileSync(path.join(dir, `bench-${stamp}.md`), md);
  if (process.env.BENCH_SUMMARY === '1') writeFileSync(path.join(process.cwd(), 'bench', 'SUMMARY.md'), md);
  console.log(`report: ${path.join(dir, `bench-${stamp}.md`)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
