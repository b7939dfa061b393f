/** The shape of one analysis's record in the registry (src/analyses/registry.ts says how to add one). */
import type { AnalysisId, AnalysisModelTasks } from '../core/analysis-ids';
import type { Volume } from '../prepare/volume-types';
import type { AnalysisContext, LocalisationOutcome } from './context';
import type { AnalysisResult } from './types';

/** What the runner gives an analysis besides the study's context and localisation. */
export interface AnalysisEnvironment {
  /** Localises another study's volumes the way this study was localised (progression's other study). */
  localise(volumes: Record<string, Volume>): Promise<LocalisationOutcome>;
}

/** The part of a record every result carries (result-builder reads only this). */
export interface AnalysisHeader<Id extends AnalysisId = AnalysisId> {
  readonly id: Id;
  /** Human title, e.g. "AJCC stage III vs IVa": in results, SR reasons, heat-map captions. */
  readonly title: string;
}

export interface AnalysisDefinition<Id extends AnalysisId = AnalysisId> extends AnalysisHeader<Id> {
  /** The paper it implements, as the README cites it, e.g. "Huang et al. 2021 (000)". */
  readonly paper: string;
  /** Model tasks it scores and soft-votes: the low fact in src/core/analysis-ids.ts (ANALYSIS_MODEL_TASKS[id]). */
  readonly modelTasks: AnalysisModelTasks;
  /** Encoder-neutral facts for the SR and heat maps (the coded SR items are encode/sr's, keyed by id). */
  readonly report: {
    /** TID 1500 Tracking Identifier (TEXT) of the analysis's measurement group. */
    readonly trackingIdentifier: string;
    /** How the heat-map caption names the score: "p" for a probability, "Score" for a risk score. */
    readonly heatMapScoreLabel: 'p' | 'Score';
  };
  /** Runs the analysis: assessed, or not assessable with the reason; throws only on a fault. */
  run(ctx: AnalysisContext, loc: LocalisationOutcome, env: AnalysisEnvironment): Promise<AnalysisResult>;
}
