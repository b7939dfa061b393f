/**
 * Loads the configuration: shipped defaults <- NPC_CONFIG file <- NPC_* environment variables.
 * Every problem is collected and reported at once; any error refuses startup.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigSchema, type Config } from './schema';
import { validate as validCron } from 'node-cron';
import { errorMessage } from '../util/error-message';

export interface ConfigIssue {
  severity: 'error' | 'warning';
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super('invalid configuration:\n' + issues.map((i) => `  ${i.severity} ${i.path || '(root)'}: ${i.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isPlainObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge for plain objects; arrays and scalars from `over` replace those in `base`. */
export function mergeConfig(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? mergeConfig(base[k], v) : v;
  return out;
}

function readJson(file: string, label: string, issues: ConfigIssue[]): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    issues.push({ severity: 'error', path: label, message: `cannot read ${file}: ${errorMessage(err)}` });
    return {};
  }
}

function envHours(env: NodeJS.ProcessEnv, name: string, issues: ConfigIssue[]): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+(\.\d+)?$/.test(raw.trim())) {
    issues.push({ severity: 'error', path: name, message: `must be a number of hours (fractions allowed), got ${JSON.stringify(raw)}` });
    return undefined;
  }
  return Number(raw.trim());
}

function envInt(env: NodeJS.ProcessEnv, name: string, issues: ConfigIssue[]): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw.trim())) {
    issues.push({ severity: 'error', path: name, message: `must be an integer, got ${JSON.stringify(raw)}` });
    return undefined;
  }
  return Number(raw.trim());
}

/** Environment overrides of the operator contract, as a partial config. */
export function environmentOverrides(env: NodeJS.ProcessEnv, issues: ConfigIssue[]): Record<string, unknown> {
  const o: Record<string, Record<string, unknown> | string> = {};
  const set = (section: string, key: string, value: unknown) => {
    if (value === undefined) return;
    const s = (o[section] ??= {}) as Record<string, unknown>;
    s[key] = value;
  };
  if (env.NPC_DATA_DIR) o.dataDir = env.NPC_DATA_DIR;
  set('dimse', 'port', envInt(env, 'NPC_DIMSE_PORT', issues));
  if (env.NPC_HTTP_HOST) set('http', 'host', env.NPC_HTTP_HOST);
  set('http', 'port', envInt(env, 'NPC_HTTP_PORT', issues));
  if (env.NPC_ADMIN_TOKEN) set('http', 'adminToken', env.NPC_ADMIN_TOKEN);
  if (env.NPC_EXECUTION_PROVIDERS) {
    set('models', 'executionProviders', env.NPC_EXECUTION_PROVIDERS.split(',').map((s) => s.trim()).filter(Boolean));
  }
  if (env.NPC_LOG_LEVEL) set('logging', 'level', env.NPC_LOG_LEVEL);
  // TLS: the files set here complete (or create) dimse.tls / http.tls from the config file.
  const dimseTls: Record<string, unknown> = {};
  const tlsPort = envInt(env, 'NPC_DIMSE_TLS_PORT', issues);
  if (tlsPort !== undefined) dimseTls.port = tlsPort;
  if (env.NPC_DIMSE_TLS_CERT_FILE) dimseTls.certFile = env.NPC_DIMSE_TLS_CERT_FILE;
  if (env.NPC_DIMSE_TLS_KEY_FILE) dimseTls.keyFile = env.NPC_DIMSE_TLS_KEY_FILE;
  if (env.NPC_DIMSE_TLS_CA_FILE) dimseTls.caFile = env.NPC_DIMSE_TLS_CA_FILE;
  if (Object.keys(dimseTls).length) set('dimse', 'tls', dimseTls);
  const httpTls: Record<string, unknown> = {};
  if (env.NPC_HTTP_TLS_CERT_FILE) httpTls.certFile = env.NPC_HTTP_TLS_CERT_FILE;
  if (env.NPC_HTTP_TLS_KEY_FILE) httpTls.keyFile = env.NPC_HTTP_TLS_KEY_FILE;
  if (Object.keys(httpTls).length) set('http', 'tls', httpTls);
  set('retention', 'receivedHours', envHours(env, 'NPC_RETENTION_RECEIVED_HOURS', issues));
  set('retention', 'resultsHours', envHours(env, 'NPC_RETENTION_RESULTS_HOURS', issues));
  if (env.NPC_RETENTION_SCHEDULE) set('retention', 'schedule', env.NPC_RETENTION_SCHEDULE);
  return o;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Project root holding config/default.json. */
  root?: string;
  /** Extra config merged last (tests). */
  overrides?: unknown;
}

/** Pure validation: returns the config or every issue found. */
export function validateConfig(input: unknown): { config?: Config; issues: ConfigIssue[] } {
  const r = ConfigSchema.safeParse(input);
  if (!r.success) {
    return {
      issues: r.error.issues.map((i) => ({ severity: 'error' as const, path: i.path.join('.'), message: i.message })),
    };
  }
  const issues = crossCheck(r.data);
  return issues.some((i) => i.severity === 'error') ? { issues } : { config: r.data, issues };
}

/** Checks that span sections: unique names, references to destinations that exist. */
function crossCheck(c: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const dup = (list: string[], p: string) => {
    const seen = new Set<string>();
    list.forEach((v, i) => {
      if (seen.has(v)) issues.push({ severity: 'error', path: `${p}.${i}`, message: `duplicate ${JSON.stringify(v)}` });
      seen.add(v);
    });
  };
  dup(c.localAeTitles.map((a) => a.aeTitle), 'localAeTitles');
  dup(c.sources.map((s) => s.aeTitle), 'sources');
  dup(c.destinations.map((d) => d.name), 'destinations');
  const dests = new Set(c.destinations.map((d) => d.name));
  c.localAeTitles.forEach((a, i) =>
    a.destinations.forEach((d, j) => {
      if (!dests.has(d)) issues.push({ severity: 'error', path: `localAeTitles.${i}.destinations.${j}`, message: `unknown destination ${JSON.stringify(d)}` });
    }),
  );
  c.localAeTitles.forEach((a, i) =>
    a.priors.from.forEach((d, j) => {
      if (!dests.has(d)) issues.push({ severity: 'error', path: `localAeTitles.${i}.priors.from.${j}`, message: `unknown destination ${JSON.stringify(d)} (a priors source must be a destination)` });
    }),
  );
  c.dimse.transferSyntaxes.forEach((ts, i) => {
    if (ts === '1.2.840.10008.1.2.1.99')
      issues.push({ severity: 'error', path: `dimse.transferSyntaxes.${i}`, message: 'deflated explicit VR little endian is not supported' });
  });
  if (!validCron(c.retention.schedule)) {
    issues.push({ severity: 'error', path: 'retention.schedule', message: `not a cron expression: ${JSON.stringify(c.retention.schedule)}` });
  }
  c.destinations.forEach((d, i) => {
    if (d.type === 'dimse' && d.tls && !d.tls.certFile !== !d.tls.keyFile) {
      issues.push({ severity: 'error', path: `destinations.${i}.tls`, message: 'certFile and keyFile go together' });
    }
  });
  if (c.dimse.tls && c.dimse.tls.requireClientCertificate && !c.dimse.tls.caFile) {
    issues.push({ severity: 'error', path: 'dimse.tls.caFile', message: 'requireClientCertificate needs the caFile that signs client certificates' });
  }
  return issues;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const root = opts.root ?? path.resolve(__dirname, '..', '..', '..');
  const issues: ConfigIssue[] = [];
  let merged = readJson(path.join(root, 'config', 'default.json'), 'config/default.json', issues);
  if (env.NPC_CONFIG) merged = mergeConfig(merged, readJson(path.resolve(env.NPC_CONFIG), 'NPC_CONFIG', issues));
  merged = mergeConfig(merged, environmentOverrides(env, issues));
  if (opts.overrides !== undefined) merged = mergeConfig(merged, opts.overrides);
  const r = validateConfig(merged);
  issues.push(...r.issues);
  if (!r.config || issues.some((i) => i.severity === 'error')) throw new ConfigError(issues);
  return r.config;
}
