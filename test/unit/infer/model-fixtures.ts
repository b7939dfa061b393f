/** Paths of the committed tiny test models and a helper copying some of them into a temp models dir. */
import { cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';

/** test/fixtures/models in the source tree (tests run from dist/test/...). */
export const FIXTURE_MODELS_DIR = path.resolve(__dirname, '../../../../test/fixtures/models');

export const ALL_FIXTURE_MODELS = [
  'tiny-localiser',
  'tiny-stage-a',
  'tiny-stage-b',
  'tiny-dmfs',
  'tiny-msom',
  'tiny-msom-fusion',
  'tiny-residual-ccrt',
  'tiny-residual-ic-ccrt',
  'tiny-progression-pre',
  'tiny-progression-post',
];

export function copyFixtureModels(targetDir: string, ids: string[]): void {
  mkdirSync(targetDir, { recursive: true });
  for (const id of ids) cpSync(path.join(FIXTURE_MODELS_DIR, id), path.join(targetDir, id), { recursive: true });
}
