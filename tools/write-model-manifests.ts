/**
 * node dist/tools/write-model-manifests.js [--models models] [--recipe models/training/recipe.json]
 *
 * For every trained model directory (models/<id>/model.onnx + training.json written by
 * models/training/train.py) writes models/<id>/manifest.json in the schema of src/infer/manifest.ts and
 * models/<id>/MODEL_CARD.md. Shapes come from running the ONNX graph once on zeros; the preparation,
 * slice selection, aggregation and clinical encoding come from the recipe (the same entries the training
 * export used); cut-offs and metrics from training.json. Ensembles (stage: soft vote of its networks;
 * progression: soft vote of pre and post) get one cut-off chosen on the soft vote's validation scores.
 * Every manifest is checked with ModelManifestSchema + checkManifest before it is written.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelManifestSchema, checkManifest, clinicalVectorWidth, type ModelManifest } from '../src/infer/manifest';
import type { SignatureFile } from '../src/training/fit-signatures';
import { youdenCutoff } from '../src/training/logistic-fit';
import { aucWithCi } from '../src/validate/metrics';
import { readRecipe, type RecipeModel } from '../src/training/recipe';
import { errorMessage } from '../src/util/error-message';

interface TrainingJson {
  /** Where the crop/mask regions of the training inputs came from (default: ground-truth masks). */
  regions?: 'localiser' | 'ground-truth';
  nTrainSamples: number;
  nValidationSamples: number;
  trainPatients?: number;
  validationPatients?: number;
  trainAuc?: number;
  validationAuc?: number;
  validationAucWithClinical?: number;
  validationAucImageOnly?: number;
  validationAucCombined?: number;
  trainAucCombined?: number;
  validationDiceGtv?: number;
  validationDiceGtvln?: number;
  cutoff?: number;
  cutoffMethod?: string;
  logistic?: { intercept: number; imageCoefficient: number; imageTransform: 'identity' | 'logit'; coefficients: number[]; cutoff: number; cutoffMethod: string };
  validationScoresByPatient?: Record<string, [number, number]>;
  fusionOf?: string;
  trainingSeconds: number;
  threads?: number;
  cohort?: { dir?: string; seed?: unknown; patients?: number };
  exportShape?: number[];
  skippedPatients?: number;
}

const VERSION = '1.0.0';

const CLASSES: Record<string, { negative: string; positive: string }> = {
  stage: { negative: 'III', positive: 'IVa' },
  dmfs: { negative: 'low', positive: 'high' },
  msom: { negative: 'low', positive: 'high' },
  'residual-ccrt': { negative: 'no residual', positive: 'residual' },
  'residual-ic-ccrt': { negative: 'no residual', positive: 'residual' },
  'progression-pre': { negative: 'low', positive: 'high' },
  'progression-post': { negative: 'low', positive: 'high' },
};

const PAPER: Record<string, { paper: string; intended: string; differs: string }> = {
  localiser: {
    paper: 'papers 002 (DeepLabv3 segmentation, Dice 0.752) and 004 (Mask R-CNN detection of GTV and GTVln)',
    intended: 'Research: finds the primary tumour (GTV) and metastatic nodes (GTVln) on axial CE-T1 MR slices so that the analyses can crop regions of interest.',
    differs: 'a small U-Net at 128 x 128 (soft Dice + class-weighted cross-entropy) instead of DeepLabv3 / Mask R-CNN at 512 x 512; trained on synthetic masks only.',
  },
  stage: {
    paper: 'paper 000 (Huang et al. 2021: five ImageNet CNNs, soft voting; ensemble accuracy 0.81)',
    intended: 'Research: AJCC stage III vs IVa of locoregionally advanced NPC from tumour and node crops, one network of a soft-voting ensemble.',
    differs: 'two small CNNs (a VGG-like plain network on CE-T1 and a residual network on T2) at 64 x 64 trained from scratch, instead of five ImageNet-pretrained networks at 224-299 px on manual crops.',
  },
  dmfs: {
    paper: 'paper 003 (Zhang et al. 2020: ResNet-50 signature on the largest-tumour slice, combined model AUC 0.796 / 0.795 / 0.808)',
    intended: 'Research: distant-metastasis-free-survival risk group (deep-learning signature, optionally combined with N stage, EBV-DNA and treatment) of LA-NPC.',
    differs: 'a small residual network at 64 x 64 on the masked, histogram-equalised largest-tumour slice (trained on the 3 largest-tumour slices) instead of ResNet-50 at 512 x 512; the label is the synthetic DMFS risk group, not observed survival.',
  },
  msom: {
    paper: 'paper 004 (Mask R-CNN backbone, mean slice score, ROC cut-off; CE-T1 AUC 0.733, with clinical data 0.775)',
    intended: 'Research: risk group of metachronous single-organ metastasis from pre-treatment CE-T1 MR (optionally with clinical early fusion).',
    differs: 'a small residual network at 64 x 64 (1 mm resampled crops) trained from scratch instead of the detector backbone at 512 x 512; the label is the synthetic MSOM risk group.',
  },
  'residual-ccrt': {
    paper: 'paper 002 (Hua et al. 2023: CNN ensemble, patient mean, CCRT test AUC 0.907-0.938)',
    intended: 'Research: probability of residual tumour 3-6 months after CCRT, for the CCRT / IC+CCRT / IBT recommendation.',
    differs: 'a small residual network at 64 x 64 instead of ImageNet-pretrained networks at 224 x 224; synthetic counterfactual labels.',
  },
  'residual-ic-ccrt': {
    paper: 'paper 002 (Hua et al. 2023: CNN ensemble, patient mean, IC+CCRT test AUC 0.864-0.955)',
    intended: 'Research: probability of residual tumour 3-6 months after IC + CCRT, for the CCRT / IC+CCRT / IBT recommendation.',
    differs: 'a small VGG-like network at 64 x 64 instead of ImageNet-pretrained networks at 224 x 224; synthetic counterfactual labels.',
  },
  'progression-pre': {
    paper: 'paper 001 (Li et al. 2022: Inception-ResNet-V2 Pre- and Post-models, soft vote; ensemble AUC 0.842)',
    intended: 'Research: progression risk (high vs low) from the pre-treatment MR, soft-voted with the post-treatment model.',
    differs: 'a small residual network at 64 x 64 on T2 crops instead of Inception-ResNet-V2 on 400 x 200 px ROIs padded to 512; synthetic risk labels.',
  },
  'progression-post': {
    paper: 'paper 001 (Li et al. 2022: Inception-ResNet-V2 Pre- and Post-models, soft vote; ensemble AUC 0.842)',
    intended: 'Research: progression risk (high vs low) from the post-treatment MR, soft-voted with the pre-treatment model.',
    differs: 'a small residual network at 64 x 64 on CE-T1 crops instead of Inception-ResNet-V2 on 400 x 200 px ROIs padded to 512; synthetic risk labels.',
  },
};

const ARCH: Record<string, string> = {
  plain: 'VGG-like plain CNN (3x3 convolutions, batch norm, max pooling), global average pooling + one linear layer',
  resnet: 'small ResNet (stem + 4 residual blocks), global average pooling + one linear layer',
  unet: 'small U-Net (3 levels, skip connections), softmax over background / GTV / GTVln',
};

/** Soft vote of several models' validation scores (patients scored by all), its AUC and Youden cut-off. */
function ensembleCutoff(members: TrainingJson[]): { value: number; auc: number; patients: number } {
  const maps = members.map((m) => m.validationScoresByPatient ?? {});
  const pids = Object.keys(maps[0]!).filter((p) => maps.every((m) => m[p] !== undefined));
  const scores = pids.map((p) => maps.reduce((s, m) => s + m[p]![0], 0) / maps.length);
  const labels = pids.map((p) => maps[0]![p]![1]);
  return { value: youdenCutoff(scores, labels), auc: aucWithCi(scores, labels).auc, patients: pids.length };
}

const r4 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? undefined : Math.round(x * 10000) / 10000);

async function graphShapes(file: string, feeds: Record<string, number[]>): Promise<Record<string, number[]>> {
  const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'] });
  try {
    const input: Record<string, ort.Tensor> = {};
    for (const [name, dims] of Object.entries(feeds)) input[name] = new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
    const out = await session.run(input);
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, [...t.dims]]));
  } finally {
    await session.release();
  }
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

interface Entry {
  id: string;
  recipe: RecipeModel;
  training: TrainingJson;
  fusion: boolean;
  /** The cohort its image signature was fitted on (from signature.json). */
  signatureCohort?: SignatureFile['cohort'];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opt = (k: string, d: string) => {
    const i = argv.indexOf(k);
    return i >= 0 && argv[i + 1] ? argv[i + 1]! : d;
  };
  const modelsDir = path.resolve(opt('--models', 'models'));
  const recipe = readRecipe(path.resolve(opt('--recipe', path.join('models', 'training', 'recipe.json'))));
  const entries: Entry[] = [];
  for (const d of fs.readdirSync(modelsDir).sort()) {
    const tj = path.join(modelsDir, d, 'training.json');
    if (!fs.existsSync(tj)) continue;
    const training = JSON.parse(fs.readFileSync(tj, 'utf8')) as TrainingJson;
    const base = training.fusionOf ?? d;
    const r = recipe.models.find((m) => m.id === base);
    if (!r) throw new Error(`${d}: no recipe entry ${base}`);
    entries.push({ id: d, recipe: r, training, fusion: !!training.fusionOf });
  }
  const byTask = (task: string) => entries.filter((e) => e.recipe.task === task);
  const ensembles = new Map<string, { value: number; auc: number; patients: number; members: string[]; how: string }>();
  const stage = byTask('stage');
  if (stage.length >= 2) {
    const e = ensembleCutoff(stage.map((s) => s.training));
    for (const s of stage) ensembles.set(s.id, { ...e, members: stage.map((x) => x.id), how: `ROC-optimal (Youden) cut-off of the soft vote of ${stage.map((x) => x.id).join(' + ')} on the validation split (shared by the ensemble)` });
  }
  const pre = byTask('progression-pre');
  const post = byTask('progression-post');
  if (pre.length && post.length) {
    const e = ensembleCutoff([pre[0]!.training, post[0]!.training]);
    for (const s of [...pre, ...post]) {
      ensembles.set(s.id, { ...e, members: [pre[0]!.id, post[0]!.id], how: `ROC-optimal (Youden) cut-off of the soft vote of the pre- and post-treatment models (${pre[0]!.id} + ${post[0]!.id}) on the validation split; the progression analysis applies it to the soft vote` });
    }
  }

  for (const e of entries) {
    const r = e.recipe;
    const t = e.training;
    const dir = path.join(modelsDir, e.id);
    const file = path.join(dir, 'model.onnx');
    const [, c, h, w] = t.exportShape ?? [];
    if (!c || !h || !w) throw new Error(`${e.id}: training.json has no exportShape`);
    const clinicalWidth = r.clinical ? clinicalVectorWidth(r.clinical.encoding) : 0;
    const feeds: Record<string, number[]> = { image: [1, c, h, w] };
    if (e.fusion) feeds.clinical = [1, clinicalWidth];
    const shapes = await graphShapes(file, feeds);
    const cohort = t.cohort ?? {};
    const trainingData = `Synthetic NPC cohort (src/synth, seed ${String(cohort.seed)}, ${cohort.patients} patients; ${t.trainPatients ?? '?'} training / ${t.validationPatients ?? '?'} validation patients by PatientID hash); no patient data. See MODEL_CARD.md.`;
    const ens = ensembles.get(e.id);
    const metrics: Record<string, number | string> = {};
    const put = (k: string, v: number | undefined) => {
      const x = r4(v);
      if (x !== undefined) metrics[k] = x;
    };
    if (r.task === 'localiser') {
      put('validationDiceGtv', t.validationDiceGtv);
      put('validationDiceGtvln', t.validationDiceGtvln);
    } else {
      put('validationAuc', t.validationAuc);
      put('trainAuc', t.trainAuc);
      put('validationPatients', t.validationPatients);
      if (e.fusion) put('validationAucImageOnly', t.validationAucImageOnly);
      put('validationAucCombined', t.validationAucCombined);
      if (ens) put('validationAucEnsemble', ens.auc);
    }
    put('trainingSeconds', t.trainingSeconds);
    metrics.split = 'validation = 20 % of patients (hash of PatientID), never used for training; the held-out test cohort is separate';

    const manifest: Record<string, unknown> = {
      schemaVersion: 1,
      id: e.id,
      name: e.fusion ? `${r.name} with clinical early fusion` : r.task === 'msom' && entries.some((x) => x.training.fusionOf === e.id) ? `${r.name} (image only)` : r.name,
      version: VERSION,
      task: r.task,
      file: 'model.onnx',
      sha256: sha256(file),
      ...(r.task !== 'localiser' ? { classes: CLASSES[r.task] } : {}),
      inputs: [
        { name: 'image', kind: 'image', shape: ['N', c, h, w], roles: [r.role] },
        ...(e.fusion ? [{ name: 'clinical', kind: 'clinical', shape: ['N', clinicalWidth] }] : []),
      ],
      outputs:
        r.task === 'localiser'
          ? [{ name: 'mask', meaning: 'mask', shape: ['N', ...shapes.mask!.slice(1)], labels: ['GTV', 'GTVln'] }]
          : [
              { name: 'probability', meaning: 'probability', shape: ['N', 1], positiveIndex: 0 },
              { name: 'cam', meaning: 'cam', shape: ['N', ...shapes.cam!.slice(1)] },
            ],
      preparation: r.preparation,
      sliceSelection: r.sliceSelection,
      aggregation: r.aggregation,
      ...(r.task === 'localiser'
        ? { localisation: { threshold: 0.5, minAreaPx: 2 } }
        : {
            cam: { kind: 'in-graph', output: 'cam' },
            cutoff: ens ? { value: r4(ens.value), method: ens.how } : { value: r4(t.cutoff ?? 0.5), method: t.cutoffMethod ?? 'fixed' },
          }),
      ...(r.clinical?.use === 'logistic' && t.logistic
        ? {
            clinical: {
              use: 'logistic',
              encoding: r.clinical.encoding,
              logistic: {
                intercept: t.logistic.intercept,
                imageCoefficient: t.logistic.imageCoefficient,
                imageTransform: t.logistic.imageTransform,
                coefficients: t.logistic.coefficients,
              },
              cutoff: { value: r4(t.logistic.cutoff), method: t.logistic.cutoffMethod },
            },
          }
        : {}),
      ...(e.fusion && r.clinical ? { clinical: { use: 'input', input: 'clinical', encoding: r.clinical.encoding } } : {}),
      intendedUse: `${PAPER[r.task]!.intended} Trained on synthetic data only: re-validate on the site's own cohort before any use.`,
      researchUseOnly: true,
      trainingData,
      metrics,
    };
    const sigFile = path.join(dir, 'signature.json');
    if (r.task !== 'localiser' && fs.existsSync(sigFile)) {
      // the image signature fitted by `npm run fit-signatures` (the networks' vote with the localiser's measures)
      const sig = JSON.parse(fs.readFileSync(sigFile, 'utf8')) as SignatureFile;
      e.signatureCohort = sig.cohort;
      manifest.trainingData = `${String(manifest.trainingData)} Image signature fitted on a second synthetic cohort (seed ${String(sig.cohort.seed)}, ${sig.cohort.patients} patients) that the networks never saw.`;
      manifest.signature = sig.signature;
      manifest.cutoff = { value: r4(sig.cutoff.value), method: sig.cutoff.method };
      for (const [k, v] of Object.entries(sig.metrics)) put(k, v);
      const clinical = manifest.clinical as { use: string; logistic?: unknown; cutoff?: unknown } | undefined;
      if (clinical?.use === 'logistic' && sig.clinicalLogistic) {
        const { cutoff, ...logistic } = sig.clinicalLogistic;
        clinical.logistic = logistic;
        clinical.cutoff = { value: r4(cutoff.value), method: cutoff.method };
      }
    }
    const parsed = ModelManifestSchema.safeParse(manifest);
    if (!parsed.success) throw new Error(`${e.id}: manifest invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const problems = checkManifest(parsed.data);
    if (problems.length) throw new Error(`${e.id}: ${problems.join('; ')}`);
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    fs.writeFileSync(path.join(dir, 'MODEL_CARD.md'), modelCard(parsed.data, e, ens));
    process.stdout.write(`${e.id}: manifest + card written (${(fs.statSync(file).size / 1024).toFixed(0)} KiB, ${JSON.stringify(metrics)})\n`);
  }
}

function fmt(x: number | undefined, d = 3): string {
  return x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d);
}

function modelCard(m: ModelManifest, e: Entry, ens: { value: number; auc: number; patients: number; members: string[]; how: string } | undefined): string {
  const t = e.training;
  const r = e.recipe;
  const p = PAPER[r.task]!;
  const arch = String((r as { arch?: string }).arch ?? (r.task === 'localiser' ? 'unet' : 'plain'));
  const lines: string[] = [];
  lines.push(`# ${m.name} (\`${m.id}\` ${m.version})`, '');
  lines.push('> **Research use only.** Trained on synthetic images only. Not a medical device; not for clinical decision-making.', '> A site must re-train or at least re-validate it on its own cohort (see models/README.md).', '');
  lines.push('## Intended use', '', m.intendedUse, '');
  lines.push('## Model', '');
  lines.push(`- Task: \`${m.task}\`; in the spirit of ${p.paper}.`);
  lines.push(`- Network: ${ARCH[arch] ?? arch}${m.task === 'localiser' ? '' : '; the class-activation map is a second graph output (for GAP + linear it equals Grad-CAM)'}.`);
  const img = m.inputs.find((i) => i.kind === 'image')!;
  lines.push(`- Input: \`${img.name}\` [${img.shape.join(', ')}] from the ${r.role} series${m.inputs.length > 1 ? `, plus \`clinical\` [N, ${clinicalVectorWidth(m.clinical!.encoding)}] (early fusion: ${m.clinical!.encoding.map((x) => x.variable).join(', ')})` : ''}.`);
  lines.push(`- Preparation (src/prepare, identical in training export and serving): ${m.preparation.map((s) => JSON.stringify(s)).join(' -> ')}.`);
  lines.push(`- Slices: ${JSON.stringify(m.sliceSelection)}; patient score: ${m.aggregation}.`);
  if (m.signature) {
    const terms = m.signature.measures.map((x) => `${fmt(x.coefficient)} x ${x.transform === 'log1p' ? `ln(1 + ${x.measure})` : x.measure}`);
    const sc = e.signatureCohort;
    lines.push(`- Image signature (\`npm run fit-signatures\`, fitted on the training split of a second synthetic cohort${sc ? ` (seed \`${String(sc.seed)}\`, ${sc.patients} patients)` : ''} that the networks never saw): logit = ${fmt(m.signature.intercept)} + ${fmt(m.signature.voteCoefficient)} x logit(networks' vote) + ${terms.join(' + ')}; the measures come from the localiser's masks (src/analyses/localiser-measures.ts).`);
  }
  if (m.cutoff) lines.push(`- Cut-off: ${m.cutoff.value} (${m.cutoff.method}).`);
  if (m.clinical?.use === 'logistic') {
    lines.push(`- Combined model (paper 003): logistic regression of logit(signature) with ${m.clinical.encoding.map((x) => x.variable).join(', ')}, fitted on the training split; standardisation folded into the coefficients; its cut-off ${m.clinical.cutoff.value} (${m.clinical.cutoff.method}).`);
  }
  if (e.id === 'npc-msom' && t.validationAucWithClinical !== undefined) {
    lines.push('- The same trained network is shipped twice: this image-only graph (clinical input fixed to zeros) and `npc-msom-fusion` (clinical vector as a second input; trained with the covariates dropped for half the samples).');
  }
  lines.push('');
  lines.push('## Training data', '');
  const c = t.cohort ?? {};
  lines.push(`- Synthetic NPC cohort from \`npm run synth\` (seed \`${String(c.seed)}\`, ${c.patients} patients, 256 x 256 matrix, pre- and post-treatment studies; docs/synthetic-cohort.md). No patient data.`);
  lines.push(`- Exported with \`npm run export-training\` (the node's own series selection and preparation; regions from ${t.regions === 'localiser' ? 'the shipped localiser, as in service' : 'the ground-truth masks'}): ${t.nTrainSamples} training and ${t.nValidationSamples} validation samples${t.skippedPatients ? `, ${t.skippedPatients} patient(s) skipped` : ''}.`);
  lines.push(`- Split by patient: 80 % training, 20 % validation (hash of PatientID). Cut-offs were chosen on the training/validation split only${m.signature ? ' (with a signature: on the split of the signature\'s cohort)' : ''}; the held-out test cohort (seed 2002) was never used.`);
  lines.push(`- Label: ${r.label ?? 'ground-truth GTV / GTVln masks'}${r.label ? ' (src/training/cohort-labels.ts)' : ''}.`);
  lines.push(`- Training: CPU, ${t.threads ?? 2} threads, ${fmt(t.trainingSeconds, 0)} s (models/training/train.py, recipe models/training/recipe.json).`, '');
  lines.push('## Metrics (validation split, patient level)', '');
  if (m.task === 'localiser') {
    lines.push(`- Dice GTV ${fmt(t.validationDiceGtv)}, Dice GTVln ${fmt(t.validationDiceGtvln)} (pixel level on the model's input grid, validation patients).`);
  } else {
    lines.push(`- AUC ${fmt(t.validationAuc)} on ${t.validationPatients ?? '?'} validation patients (training split ${fmt(t.trainAuc)}).`);
    if (e.fusion) lines.push(`- Same network without covariates (image only): ${fmt(t.validationAucImageOnly)}.`);
    if (t.validationAucCombined !== undefined) lines.push(`- Combined model (signature + clinical): ${fmt(t.validationAucCombined)}.`);
    if (ens) lines.push(`- Soft vote of ${ens.members.join(' + ')}: AUC ${fmt(ens.auc)} on ${ens.patients} validation patients.`);
    if (m.signature) lines.push(`- Image signature (vote + localiser measures): AUC ${fmt(Number(m.metrics.signatureValidationAuc))} on the validation split of the signature's cohort (the networks' vote alone ${fmt(Number(m.metrics.networksValidationAuc))} there).`);
  }
  lines.push('', '## How it differs from the paper', '', `- ${p.differs}`, '- Synthetic phantoms are far simpler than real MR: the figures above say nothing about performance on patients.', '');
  lines.push('## Limits', '');
  lines.push('- Research use only; never a basis for treatment decisions.');
  lines.push('- Trained and validated on synthetic data; real anatomy, scanners, artefacts and disease are more varied.');
  if (m.task !== 'localiser') {
    lines.push(t.regions === 'localiser'
      ? '- Trained on the regions the localiser finds, as in service; a better localiser needs a retrain.'
      : '- Serving takes regions from the localiser, training took them from ground-truth masks: localiser errors propagate.');
  }
  lines.push('- Axial 2-D slices only; the input series must be selected by the node\'s rules (config.selection).', '');
  return lines.join('\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`write-model-manifests: ${errorMessage(e)}\n`);
  process.exitCode = 1;
});
