/**
 * The model registry: scans config.models.dir (one directory per model: manifest.json, the ONNX file,
 * MODEL_CARD.md), validates every manifest (schema and cross-field rules), every file (presence, SHA-256)
 * and every session (the graph's input/output names and shapes match the manifest), then keeps the sessions
 * warm. Any problem stops startup with a ModelRegistryError listing every issue by model; a bad model is
 * never discovered mid-study. An empty or missing models directory is allowed (no analyses can run).
 */
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ExecutionProvider } from '../config/schema';
import { SOFT_VOTE_TASKS } from '../core/analysis-ids';
import type { Logger } from '../logging/logger';
import { ModelManifestSchema, checkManifest, isDynamicDim, type Dim, type ModelManifest, type ModelTask } from './manifest';
import { createModelSession, type ModelSession, type SessionTuning } from './session-pool';
import { sha256File } from '../util/sha256-file';
import { errorMessage } from '../util/error-message';

export const MANIFEST_FILE = 'manifest.json';
export const MODEL_CARD_FILE = 'MODEL_CARD.md';

export interface RegistryIssue {
  /** The model's directory name (its id). */
  model: string;
  problem: string;
}

export class ModelRegistryError extends Error {
  constructor(readonly issues: RegistryIssue[]) {
    super(`invalid model(s) in the models directory:\n${issues.map((i) => `  - ${i.model}: ${i.problem}`).join('\n')}`);
    this.name = 'ModelRegistryError';
  }
}

export interface LoadedModel {
  manifest: ModelManifest;
  dir: string;
  session: ModelSession;
}

/** What GET /api/v1/models shows for one model. */
export interface ModelSummary {
  id: string;
  name: string;
  version: string;
  task: ModelTask;
  sha256: string;
  provider: string;
  providersTried: { provider: string; ok: boolean; error?: string }[];
  inputs: ModelManifest['inputs'];
  outputs: { name: string; meaning: string }[];
  cutoff?: ModelManifest['cutoff'];
  clinical?: { use: string; variables: string[] };
  intendedUse: string;
  researchUseOnly: true;
}

export interface ModelRegistryOptions {
  dir: string;
  executionProviders: readonly ExecutionProvider[];
  batchSize: number;
  /** ONNX Runtime session options (config.models.runtime); absent: DEFAULT_SESSION_TUNING. */
  runtime?: SessionTuning;
}

export class ModelRegistry {
  private constructor(
    private readonly models: Map<string, LoadedModel>,
    readonly options: ModelRegistryOptions,
  ) {}

  /** Loads and validates every model under `opts.dir`; throws ModelRegistryError naming every bad model. */
  static async load(opts: ModelRegistryOptions, logger: Logger): Promise<ModelRegistry> {
    const issues: RegistryIssue[] = [];
    const loaded = new Map<string, LoadedModel>();
    const dir = path.resolve(opts.dir);
    if (!existsSync(dir)) {
      logger.warn(`models directory ${dir} does not exist: no models loaded, analyses cannot run`, { dir });
      return new ModelRegistry(loaded, opts);
    }
    const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.'));
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const modelDir = path.join(dir, e.name);
      if (!existsSync(path.join(modelDir, MANIFEST_FILE))) continue; // not a model directory (e.g. tools)
      const before = issues.length;
      const model = await loadOne(e.name, modelDir, opts, logger, issues);
      if (model && issues.length === before) loaded.set(model.manifest.id, model);
      else if (model) await model.session.release();
    }
    issues.push(...checkEnsembles([...loaded.values()].map((m) => m.manifest)));
    if (issues.length) {
      for (const m of loaded.values()) await m.session.release();
      throw new ModelRegistryError(issues);
    }
    if (loaded.size === 0) logger.warn(`models directory ${dir} holds no models: analyses cannot run`, { dir });
    else logger.info(`models loaded: ${[...loaded.keys()].join(', ')}`, { count: loaded.size });
    return new ModelRegistry(loaded, opts);
  }

  /** A registry with no models (e.g. for tests of parts that need none). */
  static empty(opts: ModelRegistryOptions): ModelRegistry {
    return new ModelRegistry(new Map(), opts);
  }

  get size(): number {
    return this.models.size;
  }
  get(id: string): LoadedModel | undefined {
    return this.models.get(id);
  }
  list(): LoadedModel[] {
    return [...this.models.values()];
  }
  byTask(task: ModelTask): LoadedModel[] {
    return this.list().filter((m) => m.manifest.task === task);
  }
  summaries(): ModelSummary[] {
    return this.list().map(summarise);
  }
  async close(): Promise<void> {
    for (const m of this.models.values()) await m.session.release();
    this.models.clear();
  }
}

function summarise(m: LoadedModel): ModelSummary {
  const x = m.manifest;
  return {
    id: x.id,
    name: x.name,
    version: x.version,
    task: x.task,
    sha256: x.sha256,
    provider: m.session.provider,
    providersTried: m.session.attempts.map((a) => ({ ...a })),
    inputs: x.inputs,
    outputs: x.outputs.map((o) => ({ name: o.name, meaning: o.meaning })),
    ...(x.cutoff ? { cutoff: x.cutoff } : {}),
    ...(x.clinical ? { clinical: { use: x.clinical.use, variables: x.clinical.encoding.map((e) => e.variable) } } : {}),
    intendedUse: x.intendedUse,
    researchUseOnly: true,
  };
}

async function loadOne(
  dirName: string,
  modelDir: string,
  opts: ModelRegistryOptions,
  logger: Logger,
  issues: RegistryIssue[],
): Promise<LoadedModel | undefined> {
  const add = (problem: string) => issues.push({ model: dirName, problem });
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path.join(modelDir, MANIFEST_FILE), 'utf8'));
  } catch (e) {
    add(`${MANIFEST_FILE} is not valid JSON (${errorMessage(e)})`);
    return undefined;
  }
  const parsed = ModelManifestSchema.safeParse(raw);
  if (!parsed.success) {
    for (const i of parsed.error.issues) add(`${MANIFEST_FILE}: ${i.path.join('.') || '(root)'}: ${i.message}`);
    return undefined;
  }
  const manifest = parsed.data;
  if (manifest.id !== dirName) add(`manifest id "${manifest.id}" differs from its directory name`);
  for (const p of checkManifest(manifest)) add(`${MANIFEST_FILE}: ${p}`);
  if (!existsSync(path.join(modelDir, MODEL_CARD_FILE))) add(`${MODEL_CARD_FILE} is missing (every model ships its card)`);

  const file = path.join(modelDir, manifest.file);
  if (!existsSync(file) || !(await stat(file)).isFile()) {
    add(`model file ${manifest.file} is missing`);
    return undefined;
  }
  const sha = await sha256File(file);
  if (sha !== manifest.sha256) {
    add(`checksum mismatch for ${manifest.file}: manifest says ${manifest.sha256}, file is ${sha}`);
    return undefined;
  }
  let session: ModelSession;
  try {
    session = await createModelSession(manifest.id, file, opts.executionProviders, logger, opts.runtime);
  } catch (e) {
    add(`cannot create a session: ${errorMessage(e)}`);
    return undefined;
  }
  for (const p of checkSessionAgainstManifest(session, manifest)) add(p);
  return { manifest, dir: modelDir, session };
}

/** The graph's input/output names (and, where declared, ranks and fixed sizes) must match the manifest. */
export function checkSessionAgainstManifest(
  session: Pick<ModelSession, 'inputNames' | 'outputNames' | 'inputMetadata' | 'outputMetadata'>,
  manifest: ModelManifest,
): string[] {
  const problems: string[] = [];
  const compare = (what: 'input' | 'output', graph: readonly string[], declared: string[]) => {
    const g = new Set(graph);
    const d = new Set(declared);
    const missing = declared.filter((n) => !g.has(n));
    const extra = graph.filter((n) => !d.has(n));
    if (missing.length) problems.push(`${what} name(s) ${missing.join(', ')} in the manifest but not in the graph (graph has ${graph.join(', ')})`);
    if (what === 'input' && extra.length) problems.push(`graph input(s) ${extra.join(', ')} not declared in the manifest`);
  };
  compare('input', session.inputNames, manifest.inputs.map((i) => i.name));
  compare('output', session.outputNames, manifest.outputs.map((o) => o.name));
  const shapes = (meta: { name: string; shape?: readonly (number | string)[] }[], declared: { name: string; shape?: Dim[] }[], what: string) => {
    for (const d of declared) {
      const g = meta.find((m) => m.name === d.name)?.shape;
      if (!g || !d.shape) continue;
      if (g.length !== d.shape.length) {
        problems.push(`${what} ${d.name}: rank ${g.length} in the graph, ${d.shape.length} in the manifest`);
        continue;
      }
      d.shape.forEach((dim, k) => {
        const gd = g[k]!;
        const graphFixed = typeof gd === 'number' && gd > 0;
        if (!isDynamicDim(dim) && graphFixed && gd !== dim) problems.push(`${what} ${d.name}: dimension ${k} is ${gd} in the graph, ${dim} in the manifest`);
        if (isDynamicDim(dim) && graphFixed && k > 0) problems.push(`${what} ${d.name}: dimension ${k} is fixed (${gd}) in the graph but dynamic in the manifest`);
      });
    }
  };
  shapes(session.inputMetadata, manifest.inputs, 'input');
  shapes(session.outputMetadata, manifest.outputs, 'output');
  return problems;
}

/** Models combined by soft voting must agree on what they vote on (which tasks are voted: src/core/analysis-ids.ts). */
function checkEnsembles(manifests: ModelManifest[]): RegistryIssue[] {
  const issues: RegistryIssue[] = [];
  const byTask = new Map<ModelTask, ModelManifest[]>();
  for (const m of manifests) byTask.set(m.task, [...(byTask.get(m.task) ?? []), m]);
  for (const task of SOFT_VOTE_TASKS) {
    const ms = byTask.get(task) ?? [];
    if (ms.length < 2) continue;
    const first = ms[0]!;
    for (const m of ms.slice(1)) {
      if (m.cutoff?.value !== first.cutoff?.value) {
        issues.push({ model: m.id, problem: `cut-off ${m.cutoff?.value} differs from ${first.id}'s ${first.cutoff?.value}: models of one soft vote (${task}) share a cut-off` });
      }
      if (m.classes?.positive !== first.classes?.positive || m.classes?.negative !== first.classes?.negative) {
        issues.push({ model: m.id, problem: `classes differ from ${first.id}'s: models of one soft vote (${task}) vote on the same classes` });
      }
    }
  }
  return issues;
}
