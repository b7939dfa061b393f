/**
 * The import rules `npm run lint` enforces (dependency-cruiser): no import cycles, and no import from a
 * stage later on the data's path. LAYERS lists the stages from the bottom up; a module may import from
 * its own layer and from any layer below it, never from one above. Within a layer only cycles are
 * forbidden. docs/architecture.md says the same in words.
 */

/** [layer name, path pattern, what it holds]: bottom first. */
const LAYERS = [
  ['util', '^src/(util|types)/', 'tiny helpers with no project imports (error text, file hashes) and ambient .d.ts'],
  ['core', '^src/core/', 'types and ids several stages share (image refs, boxes, instance headers, clinical covariates)'],
  ['dicom', '^src/dicom/', 'DICOM encoding knowledge: Part 10, VRs, charsets, UIDs, statuses, dcmjs-dimse settings'],
  ['logging', '^src/logging/', 'the logger'],
  ['config', '^src/config/', 'the node\'s configuration schema and loader'],
  ['store', '^src/store/', 'the database, stored instances, settings and clinical data'],
  ['jobs', '^src/jobs/', 'the job queue (on the store)'],
  ['receive', '^src/receive/', 'C-STORE SCP and STOW-RS: instances in, into the store'],
  ['assemble', '^src/assemble/', 'instances grouped into studies; a complete study becomes a job'],
  ['select', '^src/select/', 'which series of a study fills which role'],
  ['prepare', '^src/prepare/', 'series decoded into volumes and model inputs'],
  ['infer', '^src/infer/', 'models: manifests, registry, ONNX sessions'],
  ['analyses', '^src/analyses/', 'the five published analyses, from volumes and models to results'],
  ['encode', '^src/encode/', 'results as DICOM SR and secondary captures'],
  ['deliver', '^src/deliver/', 'the outbox: encoded objects out to destinations (C-STORE, STOW-RS)'],
  ['priors', '^src/priors/', 'the patient\'s other study queried and retrieved from the PACS (C-FIND/C-MOVE/C-GET, QIDO/WADO-RS)'],
  ['pipeline', '^src/pipeline/', 'a job run end to end: select, prepare, analyse, encode, hand to the outbox'],
  ['audit', '^src/audit/', 'the audit trail: observes the stages\' events (associations, studies, jobs, deliveries) and writes JSON lines'],
  ['admin', '^src/admin/', 'the HTTP admin API and web page'],
  ['node', '^src/(node|main)\\.ts$', 'the composition root: builds every stage and wires them'],
  ['tools', '^(src/(synth|training|validate)/|tools/|bench/|test/)', 'offline tools and tests: may import any stage'],
];

const upward = LAYERS.slice(0, -1).map(([name, path], i) => ({
  name: `no-upward-import-from-${name}`,
  comment: `${name} may import only from ${LAYERS.slice(0, i + 1).map((l) => l[0]).join(', ')}: a later stage on the data's path must not be imported`,
  severity: 'error',
  from: { path },
  to: { path: LAYERS.slice(i + 1).map((l) => `(${l[1]})`).join('|') },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles make the stages impossible to read, test or build one at a time.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upward,
    {
      name: 'every-module-in-a-layer',
      comment: 'A new folder under src/ must be given its place in LAYERS, or the layer rules would not see it.',
      severity: 'error',
      from: { path: '^src/', pathNot: LAYERS.map((l) => `(${l[1]})`).join('|') },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    /* Type-only imports count too: a type from a later stage is still a dependency on it. */
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
