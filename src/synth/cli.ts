/**
 * npm run synth -- --out DIR --patients N --seed S [--matrix 256|512|mixed] [--with-followup] [--no-distractors]
 * Writes a synthetic NPC cohort (DICOM, masks, labels.json, labels.csv); rules in docs/synthetic-cohort.md.
 */
import path from 'node:path';
import { writeCohort } from './cohort';
import type { MatrixOption } from './vendor';
import { errorMessage } from '../util/error-message';

export interface CliArgs {
  out: string;
  patients: number;
  seed: string;
  matrix: MatrixOption;
  withFollowup: boolean;
  noDistractors: boolean;
  idPrefix?: string;
}

const USAGE = 'usage: npm run synth -- --out DIR --patients N --seed S [--matrix 256|512|mixed] [--with-followup] [--no-distractors] [--id-prefix P]';

/** Parse the command line; throws an Error with the usage text when it is wrong. */
export function parseArgs(argv: readonly string[]): CliArgs {
  const args: Partial<CliArgs> = { matrix: 256, withFollowup: false, noDistractors: false, seed: '1' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    switch (a) {
      case '--out': args.out = value(); break;
      case '--patients': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > 100000) throw new Error(`--patients must be a whole number from 1 to 100000\n${USAGE}`);
        args.patients = n;
        break;
      }
      case '--seed': args.seed = value(); break;
      case '--matrix': {
        const m = value();
        if (m !== '256' && m !== '512' && m !== 'mixed') throw new Error(`--matrix must be 256, 512 or mixed\n${USAGE}`);
        args.matrix = m === 'mixed' ? 'mixed' : (Number(m) as 256 | 512);
        break;
      }
      case '--id-prefix': args.idPrefix = value(); break;
      case '--with-followup': args.withFollowup = true; break;
      case '--no-distractors': args.noDistractors = true; break;
      case '--help': case '-h': throw new Error(USAGE);
      default: throw new Error(`unknown argument ${a}\n${USAGE}`);
    }
  }
  if (!args.out) throw new Error(`--out is required\n${USAGE}`);
  if (!args.patients) throw new Error(`--patients is required\n${USAGE}`);
  return args as CliArgs;
}

function main(): void {
  let args: CliArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${errorMessage(err)}\n`);
    process.exitCode = 2;
    return;
  }
  const started = Date.now();
  const out = path.resolve(args.out);
  const summary = writeCohort(out, {
    patients: args.patients,
    seed: args.seed,
    matrix: args.matrix,
    withFollowup: args.withFollowup,
    noDistractors: args.noDistractors,
    idPrefix: args.idPrefix,
    onPatient: (i) => {
      if ((i + 1) % 10 === 0 || i + 1 === args.patients) process.stderr.write(`synth: ${i + 1}/${args.patients} patients\n`);
    },
  });
  const iva = summary.labels.filter((l) => l.stage === 'IVa').length;
  process.stdout.write(
    `wrote ${summary.patients} patients, ${summary.instances} instances to ${out} in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
      `(stage IVa ${iva}, III ${summary.patients - iva})\n`,
  );
}

if (require.main === module) main();
