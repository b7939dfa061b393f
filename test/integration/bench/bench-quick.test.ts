/**
 * `npm run bench -- --quick` on tiny inputs: the report (JSON and Markdown) has every section, each figure with
 * its same-run reference. Nothing about speed is asserted: a benchmark is not a test. The PyTorch reference
 * rows run only where python3-torch is installed (bench/setup.sh; never installed from here).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../../helpers/temp-dir';

const RUN = path.resolve(__dirname, '..', '..', '..', 'bench', 'run.js');

function runBench(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code: code ?? -1, output: out }));
  });
}

describe('bench --quick', function () {
  this.timeout(600_000);
  it('writes a report with ingest, end-to-end, inference and memory, each figure beside its reference from the same run', async () => {
    const t = tempDir('npcai-bench-test-');
    try {
      const r = await runBench(['--quick', '--out', t.dir, '--cache', path.join(t.dir, 'cache')]);
      assert.equal(r.code, 0, r.output.slice(-3000));
      const report = JSON.parse(readFileSync(path.join(t.dir, 'benchmarks.json'), 'utf8'));
      assert.equal(report.quick, true);
      assert.equal(report.loadAverageAtStart.length, 3);
      for (const k of ['cpus', 'node', 'onnxruntimeNode', 'dcmtk', 'orthanc']) assert.ok(k in report.machine, `machine.${k}`);
      const { ingest, endToEnd, inference, memory } = report.sections;

      for (const senders of [1, 4]) {
        for (const receiver of ['node', 'node, warm, no fsync', 'minimal Node receiver, durable', 'storescp', 'storescp, then sync', 'orthanc']) {
          const row = ingest.rows.find((x: { senders: number; receiver: string }) => x.senders === senders && x.receiver === receiver);
          assert.ok(row && row.instPerSec.length >= 1 && row.median > 0, `ingest: ${senders} sender(s) into ${receiver}`);
          // The whole machine's CPU per instance and the rate its cores would sustain at that cost.
          assert.ok(row.machineCpuMsPerInstance.every((x: number) => x > 0) && row.cpuCeiling > 0, `ingest machine CPU: ${senders} sender(s) into ${receiver}`);
        }
        const plain = ingest.rows.find((x: { senders: number; receiver: string }) => x.senders === senders && x.receiver === 'storescp');
        const synced = ingest.rows.find((x: { senders: number; receiver: string }) => x.senders === senders && x.receiver === 'storescp, then sync');
        assert.ok(synced.median <= plain.median, 'storescp timed until its files are synced is never faster than without');
        for (const reference of ['minimal Node receiver, durable', 'storescp', 'storescp, then sync', 'orthanc']) {
          assert.ok(ingest.ratios.some((x: { senders: number; reference: string; ratio: number }) => x.senders === senders && x.reference === reference && x.ratio > 0), `ratio to ${reference}`);
        }
      }

      assert.equal(endToEnd.studies.length, 1);
      const s = endToEnd.studies[0];
      for (const k of ['totalSeconds', 'beyondQuietSeconds', 'completionSeconds', 'analysisSeconds', 'deliverySeconds']) assert.ok(Number.isFinite(s[k]), `end-to-end ${k}`);
      assert.ok(Math.abs(s.totalSeconds - s.beyondQuietSeconds - endToEnd.quietSeconds) < 1e-6, 'the quiet period is reported apart');
      assert.ok(endToEnd.backlog.studies >= 2 && endToEnd.backlog.studiesPerHour > 0);
      assert.ok(endToEnd.backlog.echoIdleMs.length > 0 && endToEnd.backlog.echoUnderLoadMs.length > 0, 'C-ECHO latency idle and under load');

      assert.ok(inference.shipped.some((x: { provider: string; batch: number }) => x.provider === 'cpu' && x.batch === 1));
      assert.ok(inference.shipped.some((x: { provider: string; batch: number }) => x.provider === 'cpu' && x.batch === 8));
      if (inference.reference.measured) {
        for (const row of inference.reference.rows) {
          assert.ok(row.torchMsPerRun > 0 && row.ortMsPerRun.default > 0 && row.ortMsPerRun.tuned > 0, row.network);
          assert.ok(row.ratioToTorch.default > 0);
        }
      } else {
        assert.match(inference.reference.note, /not measured/);
      }

      assert.ok(memory.concurrent.peakRssMb > 0 && memory.concurrent.associations >= 2);
      assert.ok(memory.trend.points.length >= 2 && Number.isFinite(memory.trend.slopeMbPer100));

      const md = readFileSync(path.join(t.dir, 'benchmarks.md'), 'utf8');
      for (const h of ['### Ingest', '### End-to-end', '### Inference', '### Memory']) assert.ok(md.includes(h), `markdown section ${h}`);
      assert.match(md, /Load average/);
      if (!inference.shipped.some((x: { provider: string }) => x.provider === 'webgpu')) assert.match(md, /webgpu.*not measured: no GPU/);
    } finally {
      t.cleanup();
    }
  });
});
