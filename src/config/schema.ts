/**
 * The node's configuration: one zod schema gives both the TypeScript type and the runtime check.
 * Shipped defaults live in config/default.json; NPC_CONFIG is merged over them; NPC_* variables win.
 */
import { z } from 'zod';
import { ANALYSIS_IDS, type AnalysisId } from '../core/analysis-ids';
import { AeTitleSchema as aeTitle } from '../core/ae-title-schema';
import { DestinationSchema } from '../core/destination-schemas';

export { DestinationSchema, ScSopClassSchema, SrSopClassSchema, type Destination } from '../core/destination-schemas';

export const AeTitleSchema = aeTitle;

export const CompletionSchema = z.strictObject({
  /** Seconds without a new instance after which a study that has its required series is complete. */
  quietSeconds: z.number().int().min(0).max(86400).default(20),
  /** Seconds after the last instance after which a study goes on with what it has. */
  forceCompleteSeconds: z.number().int().min(1).max(7 * 86400).default(600),
  /** Series roles (names of selection rules' roles) that must be present, e.g. t1, t2, ce-t1. */
  requiredSeries: z.array(z.string().min(1)).default(['t1', 't2', 'ce-t1']),
});
export type CompletionConfig = z.infer<typeof CompletionSchema>;

/** The analyses a local AE title may run: the ids of the analysis registry (src/core/analysis-ids.ts). */
export const AnalysisIdSchema = z.enum(ANALYSIS_IDS);
export type { AnalysisId };
export const ALL_ANALYSES: readonly AnalysisId[] = ANALYSIS_IDS;

/**
 * Where to fetch the patient's other MR study from for the progression analysis (src/priors,
 * docs/prior-retrieval.md): destination names, asked in order.
 */
export const PriorsSettingsSchema = z.strictObject({
  /** Destination names (DIMSE: C-FIND + C-MOVE/C-GET; DICOMweb: QIDO-RS + WADO-RS), asked in order. */
  from: z.array(z.string().min(1)).default([]),
  /** How many days before (or after) the study the other study may lie. */
  lookbackDays: z.number().int().min(1).max(36500).default(1825),
  /** Seconds the retrieval may take; the progression analysis waits for it up to then. */
  deadlineSeconds: z.number().int().min(1).max(86400).default(600),
  /** Analyse a retrieved prior (and deliver its results) like any other study; by default it only serves as the prior. */
  analyse: z.boolean().default(false),
});
export type PriorsSettings = z.infer<typeof PriorsSettingsSchema>;

export const LocalAeTitleSchema = z.strictObject({
  aeTitle,
  description: z.string().max(256).optional(),
  destinations: z.array(z.string().min(1)).default([]),
  /** Also send results back to the calling AE when that source has a port. */
  replyToSender: z.boolean().default(false),
  completion: CompletionSchema.default(CompletionSchema.parse({})),
  analyses: z.array(AnalysisIdSchema).default([...AnalysisIdSchema.options]),
  priors: PriorsSettingsSchema.default(PriorsSettingsSchema.parse({})),
});
export type LocalAeTitle = z.infer<typeof LocalAeTitleSchema>;

export const SourceSchema = z.strictObject({
  aeTitle,
  /** When set, associations from this AE title must come from this address (IP or host name). */
  host: z.string().min(1).max(255).optional(),
  /** When set, results can be sent back to this AE ("back to the sender"). */
  port: z.number().int().min(1).max(65535).optional(),
  description: z.string().max(256).optional(),
});
export type Source = z.infer<typeof SourceSchema>;

/** One named series-selection rule (see src/select). Every condition given must hold. */
export const SelectionRuleSchema = z.strictObject({
  name: z.string().min(1),
  /** The role the series fills: t1, t2, ce-t1 (others allowed for site models). */
  role: z.string().min(1),
  /** Higher wins when several rules match different series for the same role. */
  priority: z.number().default(0),
  seriesDescription: z.array(z.string()).optional(),
  seriesDescriptionExclude: z.array(z.string()).optional(),
  imageTypeInclude: z.array(z.string()).optional(),
  imageTypeExclude: z.array(z.string()).optional(),
  /** 'axial' | 'sagittal' | 'coronal' within orientationToleranceDegrees. */
  orientation: z.enum(['axial', 'sagittal', 'coronal']).optional(),
  orientationToleranceDegrees: z.number().min(0).max(45).default(20),
  contrast: z.enum(['required', 'forbidden', 'any']).default('any'),
  /** At least one of these ScanningSequence values (SE, GR, IR, EP, RM) must be present. */
  scanningSequence: z.array(z.string()).optional(),
  /** None of these ScanningSequence values may be present. */
  scanningSequenceExclude: z.array(z.string()).optional(),
  /** At least one of these SequenceVariant values (SK, SS, SP, MP, OSP, MTC, NONE) must be present. */
  sequenceVariant: z.array(z.string()).optional(),
  /** None of these SequenceVariant values may be present. */
  sequenceVariantExclude: z.array(z.string()).optional(),
  repetitionTimeMs: z.tuple([z.number(), z.number()]).optional(),
  echoTimeMs: z.tuple([z.number(), z.number()]).optional(),
  minInstances: z.number().int().min(1).default(3),
});
export type SelectionRule = z.infer<typeof SelectionRuleSchema>;

export const ExecutionProviderSchema = z.enum(['webgpu', 'cuda', 'cpu']);
export type ExecutionProvider = z.infer<typeof ExecutionProviderSchema>;

/** A DICOM TLS listener (PS3.15 B.9, BCP 195 profile: TLS 1.2 or 1.3, its cipher suites). */
export const DimseTlsSchema = z.strictObject({
  /** Port of the TLS listener (0: one picked at start, for tests). DICOM's registered TLS port is 2762. */
  port: z.number().int().min(0).max(65535).default(2762),
  /** PEM files: our certificate (chain) and its private key. */
  certFile: z.string().min(1),
  keyFile: z.string().min(1),
  /** PEM bundle of the CAs whose client certificates are accepted. */
  caFile: z.string().min(1).optional(),
  /** Refuse, during the handshake, a client without a certificate signed by caFile. */
  requireClientCertificate: z.boolean().default(false),
});
export type DimseTlsConfig = z.infer<typeof DimseTlsSchema>;

/** Retention of received instances and results (run on `schedule` and by POST /api/v1/maintenance/retention). */
export const RetentionSchema = z.strictObject({
  /** Hours after its last instance that a study's received instances are purged, once its results went out; 0 = keep forever. */
  receivedHours: z.number().min(0).default(168),
  /** Hours after they were written that result objects (SR, SC, SEG) are purged; 0 = keep forever. */
  resultsHours: z.number().min(0).default(720),
  /** When retention and the free-space check run: a cron expression (5 fields, or 6 with seconds first). */
  schedule: z.string().min(1).default('0 * * * *'),
  /** The free-space check warns when free space falls below this many times storage.freeSpaceWatermarkMb. */
  freeSpaceWarningFactor: z.number().min(1).default(2),
});
export type RetentionConfig = z.infer<typeof RetentionSchema>;

export const ConfigSchema = z.strictObject({
  dataDir: z.string().min(1).default('./data'),
  dimse: z
    .strictObject({
      port: z.number().int().min(0).max(65535).default(11112),
      host: z.string().default('0.0.0.0'),
      maxAssociations: z.number().int().min(1).max(1024).default(32),
      /** Largest PDU we accept from a peer; larger ones abort the association. */
      maxPduLength: z.number().int().min(4096).max(16 * 1024 * 1024).default(262144),
      /**
       * ARTIM (PS3.8 9.1.5): seconds from TCP accept until the whole A-ASSOCIATE-RQ has arrived and been
       * answered; a connection not associated by then is closed (also one left open after a reject).
       */
      associationRequestTimeoutSeconds: z.number().min(1).max(600).default(10),
      /** Seconds without a whole PDU from the peer (single bytes do not count) before an association is aborted. */
      idleTimeoutSeconds: z.number().min(1).max(3600).default(60),
      /** TCP connections held at once; at the cap, unassociated ones give way (oldest first) to new ones. */
      maxConnections: z.number().int().min(1).max(4096).default(128),
      /** TCP connections held at once from one peer address (same rule as maxConnections within it). */
      maxConnectionsPerAddress: z.number().int().min(1).max(4096).default(16),
      /** Bytes held in memory per association for anything but C-STORE data sets (which stream to disk). */
      maxBufferedBytesPerAssociation: z.number().int().min(65536).default(4 * 1024 * 1024),
      /** Largest C-STORE data set accepted (0xA700 beyond it, nothing kept); checked while it streams in. */
      maxInstanceBytes: z.number().int().min(1024).default(2 * 1024 * 1024 * 1024),
      /** While a data set streams in, free space is checked again every this many MiB. */
      freeSpaceCheckEveryMb: z.number().min(1).default(16),
      allowUnknownSources: z.boolean().default(false),
      /**
       * C-STORE data sets are received by the node's own P-DATA path (streamed into the spool file, response
       * encoded by the node) instead of through dcmjs-dimse; negotiation, C-ECHO and release stay with it.
       */
      fastStorePath: z.boolean().default(true),
      /** A DICOM TLS listener besides the plain one; with it, `port: 0` means no plain listener. */
      tls: DimseTlsSchema.optional(),
      /** Transfer syntaxes we accept, in order of preference. Deflate is never accepted. */
      transferSyntaxes: z
        .array(z.string())
        .default([
          '1.2.840.10008.1.2.1',
          '1.2.840.10008.1.2',
          '1.2.840.10008.1.2.4.80',
          '1.2.840.10008.1.2.4.81',
          '1.2.840.10008.1.2.4.70',
          '1.2.840.10008.1.2.4.90',
          '1.2.840.10008.1.2.4.91',
          '1.2.840.10008.1.2.5',
          '1.2.840.10008.1.2.2',
        ]),
    })
    .prefault({}),
  http: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
      /** Bearer token for the admin API and DICOMweb; when unset one is generated into <dataDir>/admin-token. */
      adminToken: z.string().min(16, 'adminToken: at least 16 characters').optional(),
      maxStowBytes: z.number().int().min(1024).default(2 * 1024 * 1024 * 1024),
      /** Largest part (instance) of a STOW-RS request (413 beyond it). */
      maxStowPartBytes: z.number().int().min(1024).default(2 * 1024 * 1024 * 1024),
      /** Seconds a STOW-RS request body may take to arrive (408 beyond it). */
      stowRequestTimeoutSeconds: z.number().min(1).max(86400).default(600),
      /** Serve the admin API, web page and DICOMweb over HTTPS (TLS 1.2+) with these PEM files. */
      tls: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1) }).optional(),
    })
    .prefault({}),
  storage: z
    .strictObject({
      /** Refuse new instances (0xA700) when free space falls below this many MiB. */
      freeSpaceWatermarkMb: z.number().min(0).default(512),
      /** fsync each instance and its directory before answering Success. Off only for benchmarks. */
      fsync: z.boolean().default(true),
      /**
       * What to do when a different object arrives under a known SOP Instance UID:
       * 'reject' answers a failure (0xA900-range "duplicate with different content") and keeps the first;
       * 'replace' keeps the newest (old file kept as <uid>.dcm.superseded-<time>).
       */
      conflictPolicy: z.enum(['reject', 'replace']).default('reject'),
      /**
       * An instance whose patient identity (PatientID with IssuerOfPatientID; birth date and sex when both
       * state them) differs from its study's: 'refuse' answers a failure (0xA9FE with an ErrorComment; STOW-RS
       * a FailedSOPSequence item); 'quarantine' keeps it apart (GET /api/v1/quarantine) and never analyses it
       * with the study; 'accept-newest' takes it as a correction: the study is re-keyed to it, and logged.
       */
      patientIdentityMismatch: z.enum(['refuse', 'quarantine', 'accept-newest']).default('refuse'),
      /** Calling AE titles trusted to correct a study's patient identity (treated as 'accept-newest'). */
      patientIdentityCorrectors: z.array(z.string().min(1).max(16)).default([]),
    })
    .prefault({}),
  retention: RetentionSchema.prefault({}),
  localAeTitles: z.array(LocalAeTitleSchema).min(1).default([LocalAeTitleSchema.parse({ aeTitle: 'NPCAI' })]),
  sources: z.array(SourceSchema).default([]),
  destinations: z.array(DestinationSchema).default([]),
  selection: z
    .strictObject({
      rules: z.array(SelectionRuleSchema).default([]),
    })
    .prefault({}),
  models: z
    .strictObject({
      dir: z.string().default('./models'),
      executionProviders: z.array(ExecutionProviderSchema).min(1).default(['webgpu', 'cpu']),
      /** Slices per inference batch. */
      batchSize: z.number().int().min(1).max(256).default(16),
      /**
       * ONNX Runtime session options for every model (docs/model-manifest.md, "Session options"). Absent fields
       * keep ONNX Runtime's defaults, except allowSpinning (false: idle pool threads sleep; chosen by
       * measurement on a shared CPU, docs/benchmarks.md).
       */
      runtime: z
        .strictObject({
          /** Threads inside one operator (absent: one per physical core). */
          intraOpThreads: z.number().int().min(1).max(256).optional(),
          /** Threads across operators (only with executionMode 'parallel'). */
          interOpThreads: z.number().int().min(1).max(256).optional(),
          /** Whether idle pool threads spin waiting for work (ONNX Runtime's default) instead of sleeping. */
          allowSpinning: z.boolean().default(false),
          graphOptimizationLevel: z.enum(['disabled', 'basic', 'extended', 'all']).default('all'),
          /** The CPU memory arena (absent: on). */
          memoryArena: z.boolean().optional(),
          executionMode: z.enum(['sequential', 'parallel']).optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  analysis: z
    .strictObject({
      /** Analysis jobs run at the same time. */
      concurrency: z.number().int().min(1).max(16).default(1),
    })
    .prefault({}),
  delivery: z
    .strictObject({
      maxAttempts: z.number().int().min(1).max(100).default(8),
      initialBackoffSeconds: z.number().min(0).default(10),
      maxBackoffSeconds: z.number().min(1).default(3600),
      /** Seconds to wait for any single DIMSE response. */
      responseTimeoutSeconds: z.number().min(1).default(60),
    })
    .prefault({}),
  web: z
    .strictObject({
      /**
       * Whether the web page and the API responses made for it show PatientName. Seeds the stored setting on
       * first start; after that PUT /api/v1/settings/web changes it (and it survives restarts).
       */
      showPatientNames: z.boolean().default(false),
    })
    .prefault({}),
  logging: z
    .strictObject({
      level: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
    })
    .prefault({}),
  /** The audit trail: JSON lines in <dataDir>/audit/audit-YYYY-MM-DD.jsonl (src/audit/audit-log.ts). */
  audit: z
    .strictObject({
      /** Days a daily audit file is kept before it is deleted. */
      retentionDays: z.number().int().min(1).max(36500).default(365),
    })
    .prefault({}),
});
export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
