/**
 * The deploy kit (deploy/) checked without docker or kubectl: the compose files against the Compose
 * Specification schema (vendored, test/fixtures/deploy/SOURCE.md), the Kubernetes manifests against the
 * Kubernetes schemas of the kubernetes-models package, the node's config files through the real config
 * loader, and the Dockerfile and systemd unit for what the operator contract and the hardening ask.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { loadConfig, mergeConfig, validateConfig } from '../../../src/config/load';
import { tempDir } from '../../helpers/temp-dir';

const root = path.resolve(__dirname, '..', '..', '..', '..');
const deployDir = path.join(root, 'deploy');
const composeDir = path.join(deployDir, 'compose');
const k8sDir = path.join(deployDir, 'k8s');
const read = (...p: string[]) => readFileSync(path.join(...p), 'utf8');

// ---------- helpers ----------

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Compose interpolation as docker compose does it for an unset variable: ${X:-d} / ${X-d} -> d, ${X} -> ''. */
function interpolateUnset(value: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_m, _name, def: string | undefined) => def ?? '');
}

/** A service's environment (map or list form) with unset-variable interpolation. */
function serviceEnv(service: Obj): Record<string, string> {
  const env = service.environment;
  const out: Record<string, string> = {};
  if (Array.isArray(env)) {
    for (const e of env as string[]) {
      const i = e.indexOf('=');
      if (i > 0) out[e.slice(0, i)] = interpolateUnset(e.slice(i + 1));
    }
  } else if (isObj(env)) {
    for (const [k, v] of Object.entries(env)) if (v !== null && v !== undefined) out[k] = interpolateUnset(String(v));
  }
  return out;
}

/** The host path (relative to the compose file) bind-mounted at `target` in a service, from the short syntax. */
function bindSourceFor(service: Obj, target: string): string | undefined {
  for (const v of (service.volumes as unknown[]) ?? []) {
    if (typeof v !== 'string') continue;
    const [src, dst] = v.split(':');
    if (dst === target && src && (src.startsWith('./') || src.startsWith('../'))) return src;
  }
  return undefined;
}

/** Loads a node config file through the real loader with the given environment; also asserts no issue at all. */
function assertNodeConfigLoads(configFile: string, env: Record<string, string>) {
  const config = loadConfig({ root, env: { ...env, NPC_CONFIG: configFile } });
  const merged = mergeConfig(JSON.parse(read(root, 'config', 'default.json')), JSON.parse(readFileSync(configFile, 'utf8')));
  const r = validateConfig(merged);
  assert.deepEqual(r.issues, [], `${configFile}: ${JSON.stringify(r.issues)}`);
  return config;
}

/** ESM-only packages from this CommonJS build: a real dynamic import (tsc would turn `import()` into require). */
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<Record<string, unknown>>;

interface K8sModel {
  validate(): void;
}
type K8sModelClass = new (data: unknown) => K8sModel;

/** The kubernetes-models class for an apiVersion/kind ('v1' -> kubernetes-models/v1, 'apps/v1' -> .../apps/v1). */
async function k8sModel(apiVersion: string, kind: string): Promise<K8sModelClass> {
  const mod = await importEsm(`kubernetes-models/${apiVersion}`);
  const cls = mod[kind];
  assert.equal(typeof cls, 'function', `kubernetes-models has no ${apiVersion} ${kind}`);
  return cls as K8sModelClass;
}

async function k8sErrors(doc: Obj): Promise<string | undefined> {
  const Model = await k8sModel(String(doc.apiVersion), String(doc.kind));
  try {
    new Model(doc).validate();
    return undefined;
  } catch (e) {
    const errors = (e as { errors?: { instancePath: string; message?: string }[] }).errors;
    return errors ? errors.map((x) => `${x.instancePath} ${x.message}`).join('; ') : e instanceof Error ? e.message : String(e);
  }
}

function loadK8sDocs(): { file: string; doc: Obj }[] {
  const files = readdirSync(k8sDir).filter((f) => /\.ya?ml$/.test(f)).sort();
  return files.flatMap((file) =>
    parseAllDocuments(read(k8sDir, file)).map((d) => {
      assert.deepEqual(d.errors, [], `${file}: YAML errors`);
      return { file, doc: d.toJS() as Obj };
    }),
  ).filter((d) => d.doc !== null);
}

/** Dockerfile instructions (continuation lines joined, comments dropped), as [INSTRUCTION, args]. */
function dockerInstructions(text: string): [string, string][] {
  const out: [string, string][] = [];
  let acc = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (acc === '' && (line.trim().startsWith('#') || line.trim() === '')) continue;
    if (line.trim().startsWith('#')) continue;
    if (line.endsWith('\\')) {
      acc += line.slice(0, -1) + ' ';
      continue;
    }
    acc += line;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(acc);
    if (m) out.push([m[1]!.toUpperCase(), m[2]!.trim()]);
    acc = '';
  }
  return out;
}

/** A simple ini reader for unit files: section -> key -> values (repeated keys kept in order). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      current = new Map();
      sections.set(sec[1]!, current);
      continue;
    }
    const i = line.indexOf('=');
    assert.ok(current && i > 0, `unit line outside a section or without '=': ${line}`);
    const key = line.slice(0, i).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(i + 1).trim()]);
  }
  return sections;
}

// ---------- compose ----------

describe('deploy kit', () => {
  describe('compose (Compose Specification schema)', () => {
    const schema = JSON.parse(read(root, 'test', 'fixtures', 'deploy', 'compose-spec.json')) as Obj;
    const ajv = new Ajv({ allErrors: true, strict: false });
    // The schema names its meta-schema https://json-schema.org/draft-07/schema (Ajv registers the http://...# id).
    const draft07 = JSON.parse(read(root, 'node_modules', 'ajv', 'dist', 'refs', 'json-schema-draft-07.json')) as Obj;
    ajv.addMetaSchema({ ...draft07, $id: String(schema.$schema) });
    const validateCompose = ajv.compile(schema);
    const composeFiles = readdirSync(composeDir).filter((f) => /^compose(\..+)?\.ya?ml$/.test(f));
    const compose = parseYaml(read(composeDir, 'compose.yaml')) as Obj;
    const services = compose.services as Record<string, Obj>;

    it('has the demo and the GPU override', () => {
      assert.deepEqual(composeFiles.sort(), ['compose.gpu.yaml', 'compose.yaml']);
    });

    for (const file of ['compose.yaml', 'compose.gpu.yaml']) {
      it(`${file} is valid against the Compose Specification`, () => {
        const doc = parseYaml(read(composeDir, file));
        const ok = validateCompose(doc);
        assert.ok(ok, `${file}: ${ajv.errorsText(validateCompose.errors, { separator: '\n' })}`);
      });
    }

    it('the schema validator rejects what docker compose would (an unknown service key, a bad port list)', () => {
      const bad = structuredClone(compose) as { services: Record<string, Obj> };
      bad.services['npc-ai-node']!.portz = ['8080:8080'];
      assert.equal(validateCompose(bad), false);
      const bad2 = structuredClone(compose) as { services: Record<string, Obj> };
      bad2.services['npc-ai-node']!.ports = { a: 1 };
      assert.equal(validateCompose(bad2), false);
    });

    it('runs the node (built from deploy/Dockerfile), Orthanc and OHIF, every mounted file present', () => {
      assert.deepEqual(Object.keys(services).sort(), ['npc-ai-node', 'ohif', 'orthanc']);
      const build = services['npc-ai-node']!.build as Obj;
      assert.ok(existsSync(path.join(composeDir, String(build.context), String(build.dockerfile))));
      for (const s of Object.values(services)) {
        for (const v of (s.volumes as unknown[]) ?? []) {
          if (typeof v === 'string' && v.startsWith('./')) assert.ok(existsSync(path.join(composeDir, v.split(':')[0]!)), `${v}: missing`);
        }
      }
    });

    it("the node's config file (mounted at NPC_CONFIG) loads through the real config loader, Orthanc as source and destination", () => {
      const node = services['npc-ai-node']!;
      const env = serviceEnv(node);
      const src = bindSourceFor(node, env.NPC_CONFIG!);
      assert.ok(src, `NPC_CONFIG ${env.NPC_CONFIG} is not bind-mounted from deploy/compose/`);
      const config = assertNodeConfigLoads(path.join(composeDir, src), env);
      assert.equal(config.dataDir, '/data');
      assert.equal(config.http.host, '0.0.0.0');
      const orthanc = JSON.parse(read(composeDir, 'orthanc', 'orthanc.json')) as Obj;
      const source = config.sources.find((s) => s.aeTitle === orthanc.DicomAet);
      assert.ok(source, 'Orthanc is not a source of the node');
      assert.equal(source.host, 'orthanc');
      const dest = config.destinations.find((d) => d.type === 'dimse' && d.aeTitle === orthanc.DicomAet);
      assert.ok(dest && dest.type === 'dimse');
      assert.equal(dest.host, 'orthanc');
      assert.equal(dest.port, orthanc.DicomPort);
      assert.deepEqual(config.localAeTitles[0]!.destinations, [dest.name]);
    });

    it('Orthanc knows the node as a modality and auto-routes MR to it; OHIF reads Orthanc over DICOMweb', () => {
      const node = services['npc-ai-node']!;
      const config = loadConfig({ root, env: { NPC_CONFIG: path.join(composeDir, bindSourceFor(node, serviceEnv(node).NPC_CONFIG!)!) } });
      const orthanc = JSON.parse(read(composeDir, 'orthanc', 'orthanc.json')) as {
        DicomModalities: Record<string, { AET: string; Host: string; Port: number }>;
        LuaScripts: string[];
        DicomWeb: { Enable: boolean; Root: string };
        HttpPort: number;
      };
      const [name, modality] = Object.entries(orthanc.DicomModalities).find(([, m]) => m.AET === config.localAeTitles[0]!.aeTitle)!;
      assert.equal(modality.Host, 'npc-ai-node');
      assert.equal(modality.Port, config.dimse.port);
      const lua = read(composeDir, 'orthanc', 'autoroute.lua');
      assert.match(lua, /tags\['Modality'\] == 'MR'/);
      assert.ok(lua.includes(`/modalities/${name}/store`), 'the Lua script does not send to the node modality');
      assert.deepEqual(orthanc.LuaScripts, ['/etc/orthanc/autoroute.lua']);
      assert.ok(bindSourceFor(services.orthanc!, '/etc/orthanc/autoroute.lua'));
      assert.equal(orthanc.DicomWeb.Enable, true);
      const appConfig = read(composeDir, 'ohif', 'app-config.js');
      const root0 = orthanc.DicomWeb.Root.replace(/\/$/, '');
      assert.ok(appConfig.includes(`qidoRoot: '${root0}'`) && appConfig.includes(`wadoRoot: '${root0}'`));
      const nginx = read(composeDir, 'ohif', 'default.conf.template');
      assert.ok(nginx.includes(`proxy_pass http://orthanc:${orthanc.HttpPort}${orthanc.DicomWeb.Root};`));
    });
  });

  // ---------- Kubernetes ----------

  describe('Kubernetes manifests (kubernetes-models schemas)', () => {
    const docs = loadK8sDocs();
    const byKind = (kind: string) => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);

    it('has a Namespace, Secret, ConfigMap, PersistentVolumeClaim, Deployment and Service', () => {
      assert.deepEqual(docs.map((d) => d.doc.kind).sort(), ['ConfigMap', 'Deployment', 'Namespace', 'PersistentVolumeClaim', 'Secret', 'Service']);
    });

    it('every manifest is valid against its Kubernetes schema', async () => {
      for (const { file, doc } of docs) assert.equal(await k8sErrors(doc), undefined, `${file} (${String(doc.kind)})`);
    });

    it('the schema validator rejects a wrong type and a missing required field', async () => {
      const dep = structuredClone(byKind('Deployment')[0]!) as any;
      dep.spec.template.spec.containers[0].ports[0].containerPort = 'eleven';
      assert.match((await k8sErrors(dep)) ?? '', /containerPort must be integer/);
      const dep2 = structuredClone(byKind('Deployment')[0]!) as any;
      delete dep2.spec.selector;
      assert.match((await k8sErrors(dep2)) ?? '', /selector/);
    });

    it('the Deployment: PVC, GPU request, probes, Secret token, ConfigMap config, non-root and read-only root fs', () => {
      const dep = byKind('Deployment')[0] as any;
      const pod = dep.spec.template.spec;
      const c = pod.containers[0];
      assert.equal(c.readinessProbe.httpGet.path, '/readyz');
      assert.equal(c.livenessProbe.httpGet.path, '/healthz');
      assert.equal(c.resources.requests['nvidia.com/gpu'], 1);
      assert.equal(c.resources.limits['nvidia.com/gpu'], 1);
      assert.equal(pod.securityContext.runAsNonRoot, true);
      assert.notEqual(pod.securityContext.runAsUser, 0);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      assert.equal(c.securityContext.allowPrivilegeEscalation, false);
      const env: Record<string, any> = Object.fromEntries((c.env as { name: string; value?: string; valueFrom?: any }[]).map((e) => [e.name, e]));
      const secret = byKind('Secret')[0] as any;
      assert.equal(env.NPC_ADMIN_TOKEN.valueFrom.secretKeyRef.name, secret.metadata.name);
      assert.ok(env.NPC_ADMIN_TOKEN.valueFrom.secretKeyRef.key in secret.stringData);
      const volumes = Object.fromEntries((pod.volumes as { name: string }[]).map((v) => [v.name, v as any]));
      const mountOf = (p: string) => (c.volumeMounts as { name: string; mountPath: string; readOnly?: boolean }[]).find((m) => p === m.mountPath || p.startsWith(m.mountPath + '/'));
      const dataMount = mountOf(String(env.NPC_DATA_DIR.value))!;
      assert.equal(volumes[dataMount.name].persistentVolumeClaim.claimName, (byKind('PersistentVolumeClaim')[0] as any).metadata.name);
      assert.notEqual(dataMount.readOnly, true);
      const configMount = mountOf(String(env.NPC_CONFIG.value))!;
      assert.equal(volumes[configMount.name].configMap.name, (byKind('ConfigMap')[0] as any).metadata.name);
      const svc = byKind('Service')[0] as any;
      assert.deepEqual(svc.spec.ports.map((p: { port: number }) => p.port).sort((a: number, b: number) => a - b), [8080, 11112]);
      assert.deepEqual(svc.spec.selector, dep.spec.selector.matchLabels);
    });

    it("the ConfigMap's config file loads through the real config loader with the Deployment's environment", () => {
      const dep = byKind('Deployment')[0] as any;
      const c = dep.spec.template.spec.containers[0];
      const secret = byKind('Secret')[0] as any;
      const env: Record<string, string> = {};
      for (const e of c.env as { name: string; value?: string; valueFrom?: any }[]) {
        if (e.value !== undefined) env[e.name] = e.value;
        else if (e.valueFrom?.secretKeyRef) env[e.name] = secret.stringData[e.valueFrom.secretKeyRef.key];
      }
      const cm = byKind('ConfigMap')[0] as any;
      const key = path.basename(env.NPC_CONFIG!);
      assert.ok(key in cm.data, `ConfigMap has no ${key}`);
      const tmp = tempDir('deploy-k8s-');
      const file = path.join(tmp.dir, key);
      writeFileSync(file, cm.data[key]);
      let config;
      try {
        config = assertNodeConfigLoads(file, env);
      } finally {
        tmp.cleanup();
      }
      assert.equal(config.dataDir, '/data');
      assert.equal(config.http.host, '0.0.0.0');
      const ports = (c.ports as { containerPort: number }[]).map((p) => p.containerPort).sort((a, b) => a - b);
      assert.deepEqual(ports, [config.http.port, config.dimse.port].sort((a, b) => a - b));
    });
  });

  // ---------- Dockerfile ----------

  describe('Dockerfile', () => {
    const ins = dockerInstructions(read(deployDir, 'Dockerfile'));
    const lastFrom = ins.map(([i]) => i).lastIndexOf('FROM');
    const runtime = ins.slice(lastFrom);

    it('builds and runs on a Node 20 Debian base image', () => {
      const froms = ins.filter(([i]) => i === 'FROM').map(([, a]) => a);
      assert.ok(froms.length >= 1);
      for (const f of froms) assert.match(f, /^node:20[.-](bookworm|bullseye|trixie)(-slim)?(@sha256:[0-9a-f]{64})?( AS \w+)?$/i);
    });

    it('runs npm ci and the build, installs libvulkan1 in the runtime image', () => {
      assert.ok(ins.some(([i, a]) => i === 'RUN' && /\bnpm ci\b/.test(a)));
      assert.ok(runtime.some(([i, a]) => i === 'RUN' && /apt-get install[^&]*\blibvulkan1\b/.test(a)));
    });

    it('switches to a non-root USER in the runtime image', () => {
      const users = runtime.filter(([i]) => i === 'USER').map(([, a]) => a);
      assert.ok(users.length > 0, 'no USER');
      assert.doesNotMatch(users[users.length - 1]!, /^(root|0)(:|$)/);
    });

    it('has a HEALTHCHECK on /healthz, the data volume, ports 11112 and 8080, NPC_HTTP_HOST=0.0.0.0', () => {
      const hc = runtime.filter(([i]) => i === 'HEALTHCHECK').map(([, a]) => a);
      assert.equal(hc.length, 1);
      assert.match(hc[0]!, /\/healthz/);
      const volume = runtime.find(([i]) => i === 'VOLUME')?.[1] ?? '';
      const env = runtime.filter(([i]) => i === 'ENV').map(([, a]) => a).join(' ');
      assert.match(env, /\bNPC_HTTP_HOST=0\.0\.0\.0\b/);
      const dataDir = /\bNPC_DATA_DIR=(\S+)/.exec(env)?.[1];
      assert.ok(dataDir && volume.includes(dataDir), `VOLUME ${volume} does not hold NPC_DATA_DIR ${dataDir}`);
      const exposed = runtime.filter(([i]) => i === 'EXPOSE').flatMap(([, a]) => a.split(/\s+/)).sort();
      assert.deepEqual(exposed, ['11112', '8080']);
    });
  });

  // ---------- systemd ----------

  describe('systemd unit', () => {
    const unitPath = path.join(deployDir, 'systemd', 'npc-ai-node.service');
    const unit = parseUnit(readFileSync(unitPath, 'utf8'));
    const service = unit.get('Service')!;
    const one = (k: string) => {
      const v = service.get(k);
      assert.ok(v && v.length > 0, `[Service] ${k} missing`);
      return v[v.length - 1]!;
    };

    it('has UMask=0027 and the hardening keys', () => {
      assert.equal(one('UMask'), '0027');
      assert.equal(one('NoNewPrivileges'), 'yes');
      assert.equal(one('ProtectSystem'), 'strict');
      assert.equal(one('ProtectHome'), 'yes');
      assert.equal(one('PrivateTmp'), 'yes');
      for (const k of ['ProtectKernelTunables', 'ProtectKernelModules', 'ProtectControlGroups', 'RestrictSUIDSGID', 'LockPersonality']) assert.equal(one(k), 'yes', k);
      assert.equal(one('User'), 'npcai');
    });

    it('makes only the data directory writable, the one the env file names', () => {
      const envExample = readFileSync(path.join(deployDir, 'env.example'), 'utf8');
      const dataDir = /^NPC_DATA_DIR=(.+)$/m.exec(envExample)?.[1]?.trim();
      assert.ok(dataDir);
      assert.deepEqual(one('ReadWritePaths').split(/\s+/), [dataDir]);
    });

    it('does not set MemoryDenyWriteExecute (V8 JIT needs W+X memory) and says why', () => {
      assert.equal(service.get('MemoryDenyWriteExecute'), undefined);
      assert.match(readFileSync(unitPath, 'utf8'), /#.*MemoryDenyWriteExecute.*\n#.*JIT|#.*MemoryDenyWriteExecute.*JIT/);
    });

    it('passes systemd-analyze verify (skipped where systemd-analyze is absent)', function () {
      const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
      if (probe.error) this.skip();
      const tmp = tempDir('deploy-systemd-');
      const copy = path.join(tmp.dir, 'npc-ai-node.service');
      copyFileSync(unitPath, copy);
      // verify exits 0 even for unknown keys or bad values; what it says about the file is the verdict.
      const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8', timeout: 30000 });
      tmp.cleanup();
      const said = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('npc-ai-node.service'));
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(said, []);
    });

    it('systemd-analyze verify does report a broken unit (so the check above can fail)', function () {
      const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
      if (probe.error) this.skip();
      const tmp = tempDir('deploy-systemd-bad-');
      const copy = path.join(tmp.dir, 'npc-ai-node.service');
      writeFileSync(copy, readFileSync(unitPath, 'utf8').replace('ProtectSystem=strict', 'ProtectSystem=stricter'));
      const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8', timeout: 30000 });
      tmp.cleanup();
      assert.match(`${r.stdout}${r.stderr}`, /npc-ai-node\.service:\d+: .*protect system/i);
    });
  });
});
