/**
 * ONNX Runtime sessions (onnxruntime-node): one warm session per model, created with the configured
 * execution providers tried in order (webgpu, cuda, cpu), falling back with a clear log line; the provider
 * actually used is kept and reported. Inference is batched along the first axis.
 */
import * as ort from 'onnxruntime-node';
import type { ExecutionProvider } from '../config/schema';
import type { Logger } from '../logging/logger';
import { errorMessage } from '../util/error-message';

export interface ProviderAttempt {
  provider: ExecutionProvider;
  ok: boolean;
  error?: string;
}

export interface TensorMetadata {
  name: string;
  /** Dimensions as the graph declares them (numbers or symbolic names); absent for non-tensors. */
  shape?: readonly (number | string)[];
  type?: string;
}

export interface NamedTensor {
  data: Float32Array;
  dims: number[];
}

/** A warm session of one model. `run` takes a whole batch; `runBatched` splits it by `batchSize`. */
export class ModelSession {
  constructor(
    readonly modelId: string,
    private readonly session: ort.InferenceSession,
    /** The execution provider the session was created with. */
    readonly provider: ExecutionProvider,
    readonly attempts: ProviderAttempt[],
  ) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }
  get inputMetadata(): TensorMetadata[] {
    return metadataOf(this.session, 'inputMetadata');
  }
  get outputMetadata(): TensorMetadata[] {
    return metadataOf(this.session, 'outputMetadata');
  }

  /** Runs one batch: every input tensor has the same first dimension. */
  async run(inputs: Record<string, NamedTensor>): Promise<Record<string, NamedTensor>> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor('float32', t.data, t.dims);
    const out = await this.session.run(feeds);
    const result: Record<string, NamedTensor> = {};
    for (const [name, t] of Object.entries(out)) {
      if (t.type !== 'float32') throw new Error(`model ${this.modelId}: output ${name} is ${t.type}, float32 expected`);
      result[name] = { data: t.data as Float32Array, dims: [...t.dims] };
      t.dispose?.();
    }
    return result;
  }

  /**
   * Runs `count` items in batches of at most `batchSize` (exactly `fixedBatch` when the graph's batch axis
   * is fixed: the last batch is zero-padded and the padding's outputs dropped) and concatenates the outputs.
   */
  async runBatched(
    inputs: Record<string, NamedTensor>,
    opts: { batchSize: number; fixedBatch?: number },
  ): Promise<Record<string, NamedTensor>> {
    const entries = Object.entries(inputs);
    if (entries.length === 0) throw new Error('runBatched: no inputs');
    const count = entries[0]![1].dims[0]!;
    for (const [name, t] of entries) if (t.dims[0] !== count) throw new Error(`runBatched: input ${name} has batch ${t.dims[0]}, expected ${count}`);
    const step = opts.fixedBatch ?? opts.batchSize;
    const parts: Record<string, NamedTensor>[] = [];
    for (let start = 0; start < count; start += step) {
      const n = Math.min(step, count - start);
      const feed: Record<string, NamedTensor> = {};
      for (const [name, t] of entries) {
        const per = t.data.length / count;
        const size = opts.fixedBatch ?? n;
        const data = new Float32Array(per * size);
        data.set(t.data.subarray(start * per, (start + n) * per));
        feed[name] = { data, dims: [size, ...t.dims.slice(1)] };
      }
      const out = await this.run(feed);
      if (opts.fixedBatch !== undefined && n < opts.fixedBatch) {
        for (const [name, t] of Object.entries(out)) {
          const per = t.data.length / t.dims[0]!;
          out[name] = { data: t.data.slice(0, per * n), dims: [n, ...t.dims.slice(1)] };
        }
      }
      parts.push(out);
    }
    return concatOutputs(parts);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function metadataOf(session: ort.InferenceSession, key: 'inputMetadata' | 'outputMetadata'): TensorMetadata[] {
  const meta = (session as unknown as Record<string, unknown>)[key];
  if (!Array.isArray(meta)) return [];
  return meta.map((m: { name: string; isTensor?: boolean; shape?: (number | string)[]; type?: string }) => ({
    name: m.name,
    ...(m.isTensor && m.shape ? { shape: m.shape } : {}),
    ...(m.type ? { type: m.type } : {}),
  }));
}

function concatOutputs(parts: Record<string, NamedTensor>[]): Record<string, NamedTensor> {
  if (parts.length === 1) return parts[0]!;
  const result: Record<string, NamedTensor> = {};
  for (const name of Object.keys(parts[0]!)) {
    const total = parts.reduce((n, p) => n + p[name]!.data.length, 0);
    const data = new Float32Array(total);
    let offset = 0;
    let batch = 0;
    for (const p of parts) {
      data.set(p[name]!.data, offset);
      offset += p[name]!.data.length;
      batch += p[name]!.dims[0]!;
    }
    result[name] = { data, dims: [batch, ...parts[0]![name]!.dims.slice(1)] };
  }
  return result;
}

export class NoExecutionProviderError extends Error {
  constructor(
    readonly modelId: string,
    readonly attempts: ProviderAttempt[],
  ) {
    super(`model ${modelId}: no execution provider could load it (${attempts.map((a) => `${a.provider}: ${a.error}`).join('; ')})`);
    this.name = 'NoExecutionProviderError';
  }
}

/**
 * ONNX Runtime CPU tuning. Every field is optional; absent ones keep ONNX Runtime's own default (intra-op
 * threads: one per physical core; spinning thread pool; memory arena on; sequential execution), except the graph
 * optimisation level, 'all' unless given.
 */
export interface SessionTuning {
  /** Threads inside one operator (0 or absent: ONNX Runtime's default, one per physical core). */
  intraOpThreads?: number;
  /** Threads across operators (only with executionMode 'parallel'). */
  interOpThreads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** The CPU memory arena (faster allocation, memory kept for reuse). */
  memoryArena?: boolean;
  executionMode?: 'sequential' | 'parallel';
  /**
   * Whether the thread pools' idle threads spin waiting for work (ONNX Runtime's default, true) instead of
   * sleeping: `session.intra_op.allow_spinning` and `session.inter_op.allow_spinning`. Spinning saves a wake-up
   * per operator on idle cores; on shared or busy cores it burns the CPU time other work (and the next
   * operator's threads) needed.
   */
  allowSpinning?: boolean;
}

/**
 * The tuning a session gets when none is given (config.models.runtime's defaults): idle pool threads sleep.
 * Measured in docs/benchmarks.md: on a CPU that other work shares (the node's own decoding, DIMSE, other
 * processes) spinning threads cost CPU time and, under load, wall time too; the thread count and graph are
 * unchanged, so outputs are identical.
 */
export const DEFAULT_SESSION_TUNING: Readonly<SessionTuning> = { allowSpinning: false };

/** Session options per provider; a site can tune them here (e.g. device ids). */
export function sessionOptions(provider: ExecutionProvider, tuning: SessionTuning = {}): ort.InferenceSession.SessionOptions {
  const spin = tuning.allowSpinning === undefined ? undefined : tuning.allowSpinning ? '1' : '0';
  return {
    executionProviders: [provider],
    graphOptimizationLevel: tuning.graphOptimizationLevel ?? 'all',
    logSeverityLevel: 3,
    ...(tuning.intraOpThreads ? { intraOpNumThreads: tuning.intraOpThreads } : {}),
    ...(tuning.interOpThreads ? { interOpNumThreads: tuning.interOpThreads } : {}),
    ...(tuning.memoryArena !== undefined ? { enableCpuMemArena: tuning.memoryArena } : {}),
    ...(tuning.executionMode ? { executionMode: tuning.executionMode } : {}),
    // onnxruntime-node passes `extra` through as session config entries, nested keys joined by '.'.
    ...(spin !== undefined ? { extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } } } : {}),
  };
}

/**
 * Creates a session for `modelPath`, trying `providers` in order. Each failure is logged at warn with the
 * reason and the provider tried next; the provider that worked is logged at info and kept on the session.
 */
export async function createModelSession(
  modelId: string,
  modelPath: string,
  providers: readonly ExecutionProvider[],
  logger: Logger,
  tuning: SessionTuning = DEFAULT_SESSION_TUNING,
): Promise<ModelSession> {
  const attempts: ProviderAttempt[] = [];
  for (let i = 0; i < providers.length; i++) {
    const provider = providers[i]!;
    try {
      const session = await ort.InferenceSession.create(modelPath, sessionOptions(provider, tuning));
      attempts.push({ provider, ok: true });
      logger.info(`model ${modelId}: execution provider ${provider}`, { modelId, provider, tried: attempts.map((a) => a.provider) });
      return new ModelSession(modelId, session, provider, attempts);
    } catch (e) {
      const error = firstLine(e);
      attempts.push({ provider, ok: false, error });
      const next = providers[i + 1];
      logger.warn(
        `model ${modelId}: execution provider ${provider} unavailable (${error})${next ? `; falling back to ${next}` : '; no provider left'}`,
        { modelId, provider, fallback: next ?? null },
      );
    }
  }
  throw new NoExecutionProviderError(modelId, attempts);
}

function firstLine(e: unknown): string {
  const msg = errorMessage(e);
  // ORT messages start with a source path; keep the sentence that says what failed.
  const line = msg.split('\n').find((l) => l.trim()) ?? msg;
  const m = /(Failed to [^.]*|No supported adapters|[A-Za-z_]+: Failed to load shared library)/.exec(line);
  return (m ? m[0] : line).slice(0, 300);
}
