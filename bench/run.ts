/**
 * `npm run bench [-- --quick] [--provider webgpu] [--out DIR] [--cache DIR] [--only ingest,end-to-end,inference,memory] [--merge]`
 * `npm run bench -- --import DIR/benchmarks.json [--import ...]`: lays the sections of bounded runs written
 * elsewhere over the out report (each keeps its measuring time) and rewrites its Markdown; measures nothing.
 *
 * Runs the benchmarks and writes a JSON report (machine, versions, load average, every figure with its
 * reference from the same run and the ratio) and its Markdown. The full run writes docs/benchmarks.json and
 * the generated part of docs/benchmarks.md (between the `bench:begin` / `bench:end` markers; the analysis
 * around them is kept); `--quick` (tiny inputs, for the test) writes to bench/reports/ unless `--out` says.
 * Generated inputs and the exported ONNX networks are cached in bench/.cache (git-ignored).
 * Speed is never asserted here: a benchmark is not a test.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionProvider } from '../src/config/schema';
import { loadAverage, REPO } from './common';
import { benchEndToEnd, endToEndMarkdown, type EndToEndResult } from './end-to-end';
import { benchInference, inferenceMarkdown, type InferenceResult } from './inference';
import { benchIngest, ingestMarkdown, type IngestBenchResult } from './ingest';
import { benchMemory, memoryMarkdown, type MemoryResult } from './memory';

export const SECTIONS = ['ingest', 'end-to-end', 'inference', 'memory'] as const;
type Section = (typeof SECTIONS)[number];

interface Args {
  quick: boolean;
  providers: ExecutionProvider[];
  out?: string;
  cache: string;
  only: Section[];
  /** Keep the sections of the existing report that this run does not measure. */
  merge: boolean;
  /** Reports (benchmarks.json) of bounded runs written elsewhere: their sections replace the out report's; nothing is measured. */
  imports: string[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, providers: [], cache: path.join(REPO, 'bench', '.cache'), only: [...SECTIONS], merge: false, imports: [] };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]!;
    const next = () => {
      const n = argv[++i];
      if (n === undefined) throw new Error(`${v} needs a value`);
      return n;
    };
    if (v === '--quick') a.quick = true;
    else if (v === '--merge') a.merge = true;
    else if (v === '--import') a.imports.push(path.resolve(next()));
    else if (v === '--provider') a.providers.push(...(next().split(',') as ExecutionProvider[]));
    else if (v === '--out') a.out = path.resolve(next());
    else if (v === '--cache') a.cache = path.resolve(next());
    else if (v === '--only') {
      const s = next().split(',');
      for (const x of s) if (!(SECTIONS as readonly string[]).includes(x)) throw new Error(`--only: unknown section ${x} (${SECTIONS.join(', ')})`);
      a.only = s as Section[];
    } else throw new Error(`unknown argument ${v}`);
  }
  return a;
}

function version(cmd: string, args: string[], re: RegExp): string {
  try {
    const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return re.exec(out)?.[1] ?? out.trim().split('\n')[0]!;
  } catch {
    return 'not installed';
  }
}

function machine(): Record<string, unknown> {
  const pkg = (name: string) => version('dpkg-query', ['-W', '-f', '${Version}', name], /(.+)/);
  const ort = JSON.parse(readFileSync(path.join(REPO, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as { version: string };
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'cpu',
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    kernel: os.release(),
    node: process.version,
    onnxruntimeNode: ort.version,
    dcmtk: pkg('dcmtk'),
    orthanc: pkg('orthanc'),
    pythonTorch: pkg('python3-torch'),
    pythonTorchvision: pkg('python3-torchvision'),
    tmpdir: os.tmpdir(),
  };
}

export interface BenchReport {
  started: string;
  finished: string;
  quick: boolean;
  machine: Record<string, unknown>;
  loadAverageAtStart: [number, number, number];
  loadAverageAtEnd: [number, number, number];
  sections: { ingest?: IngestBenchResult; endToEnd?: EndToEndResult; inference?: InferenceResult; memory?: MemoryResult };
  /** When each section was measured (sections kept by --merge keep their time). */
  measuredAt: Record<string, string>;
  skipped: string[];
}

export function reportMarkdown(r: BenchReport): string {
  const m = r.machine;
  const s = r.sections;
  return [
    `## Measured ${r.started}${r.quick ? ' (--quick: tiny inputs, figures not comparable)' : ''}`,
    ...(Object.values(r.measuredAt ?? {}).some((t) => t !== r.started) ? ['', `Sections measured at: ${Object.entries(r.measuredAt).map(([k, t]) => `${k} ${t}`).join(', ')}.`] : []),
    '',
    `${m.cpus} x ${m.cpuModel}, ${m.memoryGiB} GiB, Linux ${m.kernel}; node ${m.node}, onnxruntime-node ${m.onnxruntimeNode}, DCMTK ${m.dcmtk}, Orthanc ${m.orthanc}, python3-torch ${m.pythonTorch}. Load average ${r.loadAverageAtStart.join(' / ')} at the start, ${r.loadAverageAtEnd.join(' / ')} at the end (1 / 5 / 15 min): the machine is shared, so only figures of the same run compare.`,
    '',
    s.ingest ? ingestMarkdown(s.ingest) : '### Ingest\n\nnot run\n',
    s.endToEnd ? endToEndMarkdown(s.endToEnd) : '### End-to-end\n\nnot run\n',
    s.inference ? inferenceMarkdown(s.inference) : '### Inference\n\nnot run\n',
    s.memory ? memoryMarkdown(s.memory) : '### Memory\n\nnot run\n',
  ].join('\n');
}

const BEGIN = '<!-- bench:begin (generated by npm run bench; edits between these markers are overwritten) -->';
const END = '<!-- bench:end -->';

function writeMarkdown(file: string, generated: string): void {
  const block = `${BEGIN}\n${generated}\n${END}`;
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const i = old.indexOf(BEGIN.slice(0, 20));
  const j = old.indexOf(END);
  const text = i >= 0 && j > i ? `${old.slice(0, i)}${block}${old.slice(j + END.length)}` : `# Benchmarks\n\n${block}\n`;
  writeFileSync(file, text);
}

/** --import: the out report with the sections of each imported report laid over it (each keeps its measuring time). */
function importReports(out: string, files: string[]): void {
  const jsonFile = path.join(out, 'benchmarks.json');
  const report = JSON.parse(readFileSync(existsSync(jsonFile) ? jsonFile : files[0]!, 'utf8')) as BenchReport;
  report.measuredAt ??= Object.fromEntries(Object.keys(report.sections).map((k) => [k, report.started]));
  for (const f of files) {
    const r = JSON.parse(readFileSync(f, 'utf8')) as BenchReport;
    for (const [k, v] of Object.entries(r.sections)) {
      (report.sections as Record<string, unknown>)[k] = v;
      report.measuredAt[k] = r.measuredAt?.[k] ?? r.started;
    }
    if (r.finished > report.finished) {
      report.started = r.started;
      report.finished = r.finished;
      report.loadAverageAtStart = r.loadAverageAtStart;
      report.loadAverageAtEnd = r.loadAverageAtEnd;
      report.machine = r.machine;
    }
  }
  report.skipped = ['ingest', 'endToEnd', 'inference', 'memory'].filter((k) => !(k in report.sections));
  mkdirSync(out, { recursive: true });
  writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  writeMarkdown(path.join(out, 'benchmarks.md'), reportMarkdown(report));
  console.log(`report: ${path.join(out, 'benchmarks.md')} and benchmarks.json, sections from ${files.join(', ')}`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.imports.length) return importReports(args.out ?? path.join(REPO, 'docs'), args.imports);
  const started = new Date();
  const work = path.join(os.tmpdir(), `npcai-bench-${process.pid}`);
  mkdirSync(work, { recursive: true });
  mkdirSync(args.cache, { recursive: true });
  const q = args.quick;
  const report: BenchReport = { started: started.toISOString(), finished: '', quick: q, machine: machine(), loadAverageAtStart: loadAverage(), loadAverageAtEnd: [0, 0, 0], sections: {}, measuredAt: {}, skipped: [] };
  console.log(`bench${q ? ' --quick' : ''}: ${report.machine.cpus} x ${report.machine.cpuModel}, load average ${report.loadAverageAtStart.join(' / ')}`);
  try {
    if (args.only.includes('ingest')) {
      console.log('ingest');
      report.sections.ingest = await benchIngest({ work, instances: q ? 24 : 402, repetitions: q ? 1 : Number(process.env.BENCH_REPETITIONS ?? 3), senders: [1, 4], orthanc: true, variants: [
        // A fresh node process, as each repetition starts one, and the same after a warm-up study (what a node
        // that has been running for a while does: V8 has compiled its hot path). libuv's thread pool at 16
        // threads instead of 4 was measured last wave: no gain once the order of runs alternates (docs/benchmarks.md).
        { name: 'node' },
        { name: 'node, warm', warm: true },
        // The same warm node with storage.fsync off (nothing flushed before Success; never for clinical use):
        // what durability costs this path, against what the rest of it costs.
        { name: 'node, warm, no fsync', warm: true, config: { storage: { freeSpaceWatermarkMb: 0, fsync: false } } },
      ] });
    }
    if (args.only.includes('end-to-end')) {
      console.log('end-to-end');
      report.sections.endToEnd = await benchEndToEnd({ work, cache: args.cache, studies: q ? 1 : Number(process.env.BENCH_E2E_STUDIES ?? 3), matrix: q ? 256 : 512, backlogStudies: q ? 2 : Number(process.env.BENCH_BACKLOG ?? 50), backlogMatrix: 256, quietSeconds: 1, warmup: !q });
    }
    if (args.only.includes('inference')) {
      console.log('inference');
      report.sections.inference = await benchInference({ cache: args.cache, quick: q, providers: args.providers });
    }
    if (args.only.includes('memory')) {
      console.log('memory');
      report.sections.memory = await benchMemory({ work, cache: args.cache, associations: q ? 2 : 20, slicesPerSeries: q ? 3 : 10, trendStudies: q ? 10 : Number(process.env.BENCH_TREND_STUDIES ?? 1000) });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  for (const k of Object.keys(report.sections)) report.measuredAt[k] = report.started;
  report.finished = new Date().toISOString();
  report.loadAverageAtEnd = loadAverage();
  const out = args.out ?? (q ? path.join(REPO, 'bench', 'reports') : path.join(REPO, 'docs'));
  mkdirSync(out, { recursive: true });
  const jsonFile = path.join(out, 'benchmarks.json');
  if (args.merge && existsSync(jsonFile)) {
    const old = JSON.parse(readFileSync(jsonFile, 'utf8')) as BenchReport;
    for (const [k, v] of Object.entries(old.sections)) {
      if (!(k in report.sections)) {
        (report.sections as Record<string, unknown>)[k] = v;
        report.measuredAt[k] = old.measuredAt?.[k] ?? old.started;
      }
    }
  }
  report.skipped = ['ingest', 'endToEnd', 'inference', 'memory'].filter((k) => !(k in report.sections));
  const md = reportMarkdown(report);
  writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  writeMarkdown(path.join(out, 'benchmarks.md'), md);
  console.log(`report: ${path.join(out, 'benchmarks.md')} and benchmarks.json (${((Date.now() - started.getTime()) / 1000).toFixed(0)} s)`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
