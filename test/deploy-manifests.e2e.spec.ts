import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, relative, sep } from 'node:path';
import { getMetadataStorage } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { shutdownReserveMs } from '../src/app/graceful-shutdown.js';
import { loadConfig, type AppConfig } from '../src/config/app-config.js';
import { EnvironmentVariables } from '../src/config/env.schema.js';
import { optionsFromEnv, resolveLoaderConfig } from '../src/lazy-loader/loader-config.js';
import { Dockerfile } from './support/dockerfile.js';
import { KUBECTL, quantityBytes, readYamlObjects, renderKustomization, validateObject, type K8sObject } from './support/k8s-manifests.js';

// The image (Dockerfile) and the Kubernetes manifests (deploy/k8s, kustomize) checked against the
// code they deploy: the routes of openapi.json, the settings of the env schema, the shutdown
// sequence's timing. Each overlay is rendered with `kubectl kustomize` as an apply would see it,
// type-checked object by object, then held to the rules that tie the objects together.

const MB = 2 ** 20;
const OPENAPI_PATHS = Object.keys((JSON.parse(readFileSync('openapi.json', 'utf8')) as { paths: Record<string, unknown> }).paths);
const LIVE_PATH = OPENAPI_PATHS.find((p) => p.endsWith('/health/live'));
const READY_PATH = OPENAPI_PATHS.find((p) => p.endsWith('/health/ready'));
/** Every variable the service reads (the env schema's properties, optional ones included). */
const SETTINGS = new Set(getMetadataStorage().getTargetValidationMetadatas(EnvironmentVariables, '', true, false).map((m) => m.propertyName));
/** Read by Node itself, not by the service: the only other variable a manifest may set. */
const RUNTIME_VARIABLES = new Set(['NODE_OPTIONS']);
/** Time between the hard exit of the shutdown sequence and Kubernetes' SIGKILL, for the process to end. */
const EXIT_MARGIN_MS = 2000;

const docker = Dockerfile.read('Dockerfile');
const secretExample = readYamlObjects('deploy/k8s/secret.example.yaml');

// Loose shapes of what the specs read from a rendered Deployment (the objects are type-checked first).
interface EnvVar { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }
interface Probe { httpGet?: { path: string; port: string | number }; periodSeconds?: number; failureThreshold?: number }
interface Container {
  name: string;
  image: string;
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name: string } }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: unknown } };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] }; seccompProfile?: { type: string } };
}
interface Volume { name: string; emptyDir?: { sizeLimit?: string }; persistentVolumeClaim?: { claimName: string } }
interface DeploymentSpec {
  replicas?: number;
  selector: { matchLabels: Record<string, string> };
  strategy?: { type?: string; rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string } };
  template: {
    metadata: { labels: Record<string, string> };
    spec: {
      terminationGracePeriodSeconds?: number;
      securityContext?: Record<string, unknown> & { seccompProfile?: { type: string } };
      containers: Container[];
      volumes?: Volume[];
    };
  };
}

/** `sub` is non-empty and each of its labels is in `labels`. */
function selects(sub: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return !!sub && Object.keys(sub).length > 0 && Object.entries(sub).every(([k, v]) => labels[k] === v);
}

function isUnder(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** One rendered overlay, with the objects and figures the rules below compare. */
class Rendered {
  readonly deployment: K8sObject & { spec: DeploymentSpec };
  readonly container: Container;
  readonly configMap: K8sObject & { data: Record<string, string> };
  readonly env: Record<string, string>;
  readonly config: AppConfig;

  constructor(readonly objects: K8sObject[]) {
    const deployments = this.all('Deployment');
    expect(deployments, 'one Deployment').toHaveLength(1);
    this.deployment = deployments[0] as K8sObject & { spec: DeploymentSpec };
    const containers = this.deployment.spec.template.spec.containers;
    expect(containers, 'one container').toHaveLength(1);
    this.container = containers[0]!;
    const refs = (this.container.envFrom ?? []).map((e) => e.configMapRef?.name);
    const configMaps = this.all('ConfigMap').filter((c) => refs.includes(c.metadata.name));
    expect(configMaps, 'the container reads one ConfigMap of the overlay').toHaveLength(1);
    this.configMap = configMaps[0] as K8sObject & { data: Record<string, string> };
    // What the process sees: the Dockerfile's ENV, then the ConfigMap, then `env` (values, or the
    // example Secret's value for each secret reference), as Kubernetes layers them.
    this.env = { ...docker.env(docker.runtime), ...this.configMap.data };
    for (const e of this.container.env ?? []) {
      const ref = e.valueFrom?.secretKeyRef;
      const value = ref ? secretValue(ref.name, ref.key) : e.value;
      if (value !== undefined) this.env[e.name] = value;
    }
    this.config = loadConfig(this.env);
  }

  all(kind: string): K8sObject[] {
    return this.objects.filter((o) => o.kind === kind);
  }

  get replicas(): number {
    return this.deployment.spec.replicas ?? 1;
  }

  get podLabels(): Record<string, string> {
    return this.deployment.spec.template.metadata.labels;
  }

  /** The container port a probe or Service names (by name or number). */
  containerPort(port: string | number): number | undefined {
    const ports = this.container.ports ?? [];
    return typeof port === 'number' ? ports.find((p) => p.containerPort === port)?.containerPort : ports.find((p) => p.name === port)?.containerPort;
  }

  /** The volume mounted at the deepest mount point that holds `path`. */
  volumeAt(path: string): Volume | undefined {
    const mount = (this.container.volumeMounts ?? [])
      .filter((m) => isUnder(path, m.mountPath))
      .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    return this.deployment.spec.template.spec.volumes?.find((v) => v.name === mount?.name);
  }

  /** `NODE_OPTIONS`' `--max-old-space-size`, in MiB. */
  get heapMb(): number {
    const m = /--max-old-space-size=(\d+)/.exec(this.env.NODE_OPTIONS ?? '');
    expect(m, 'NODE_OPTIONS sets --max-old-space-size').not.toBeNull();
    return Number(m![1]);
  }
}

function secretValue(name: string, key: string): string | undefined {
  const secret = secretExample.find((o) => o.kind === 'Secret' && o.metadata.name === name) as { stringData?: Record<string, string> } | undefined;
  return secret?.stringData?.[key];
}

describe('the image (Dockerfile)', () => {
  const runtime = docker.runtime;

  it('runs on Node 22 LTS, and installs production dependencies on the same image it runs', () => {
    expect(runtime.from).toMatch(/^node:22[.-]/);
    // better-sqlite3 is compiled in the stage that installs: its ABI must be the runtime's.
    const deps = docker.copies(runtime).find((c) => c.sources.some((s) => s.endsWith('/node_modules')));
    expect(deps?.from, 'node_modules comes from a stage').toBeDefined();
    const depsChain = docker.chain(docker.stage(deps!.from!));
    expect(depsChain[0]!.from).toBe(runtime.from);
    const installs = depsChain.flatMap((s) => s.instructions).filter((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
    expect(installs.map((i) => i.args)).toEqual([expect.stringMatching(/npm ci --omit=dev\b/)]);
  });

  it('runs as a numeric non-root user, under tini, with the built entry point in exec form', () => {
    const user = docker.last(runtime, 'USER');
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user!.split(':')[0])).toBeGreaterThan(0);
    const { entrypoint, cmd } = docker.command();
    expect(entrypoint[0]).toMatch(/\/tini$/);
    expect(entrypoint).toContain('--');
    expect(runtime.instructions.some((i) => i.keyword === 'RUN' && /apt-get install .*\btini\b/.test(i.args))).toBe(true);
    // The command is what `npm run start:prod` runs, and its script is the build of src/main.ts.
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> };
    expect(cmd.join(' ')).toBe(pkg.scripts['start:prod']);
    const script = cmd.find((a) => a.startsWith('dist/'));
    expect(script && existsSync(script.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'))).toBe(true);
  });

  it('checks its health on the liveness route of the API, on $PORT', () => {
    const hc = docker.healthcheck();
    expect(hc).toBeDefined();
    const url = /['"`](http:\/\/127\.0\.0\.1:)['"`]\s*\+\s*\(process\.env\.PORT \|\| (\d+)\)\s*\+\s*['"`]([^'"`]+)['"`]/.exec(hc!.command.join(' '));
    expect(url, 'the HEALTHCHECK fetches http://127.0.0.1:$PORT/<path>').not.toBeNull();
    expect(url![3]).toBe(LIVE_PATH);
    expect(OPENAPI_PATHS).toContain(url![3]);
    expect(Number(url![2])).toBe(Number(docker.env(runtime).PORT));
    expect(docker.last(runtime, 'EXPOSE')).toBe(docker.env(runtime).PORT);
  });

  it('keeps DATA_DIR on a volume and sets only known settings', () => {
    const env = docker.env(runtime);
    expect(JSON.parse(docker.last(runtime, 'VOLUME') ?? '[]')).toContain(env.DATA_DIR);
    for (const name of Object.keys(env)) expect(SETTINGS, name).toContain(name);
    expect(loadConfig({ ...env, API_KEYS: 'k'.repeat(32) }).server.port).toBe(3000);
  });

  it('sends only what it copies to the build (a deny-all .dockerignore with exceptions)', () => {
    const patterns = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(patterns[0]).toBe('**');
    const sources = docker.stages.flatMap((s) => docker.copies(s)).filter((c) => !c.from).flatMap((c) => c.sources);
    for (const src of sources) {
      expect(patterns.some((p) => p === `!${src}` || p === `!${src}/**`), `${src} is let through`).toBe(true);
      expect(existsSync(src), `${src} exists`).toBe(true);
    }
  });
});

describe('the example Secret', () => {
  it('is a valid Secret whose every key is a setting', () => {
    expect(secretExample).toHaveLength(1);
    const secret = secretExample[0]!;
    validateObject(secret);
    for (const key of Object.keys((secret as { stringData?: Record<string, string> }).stringData ?? {})) expect(SETTINGS, key).toContain(key);
  });
});

const OVERLAYS = ['embedded', 'scale-out'] as const;
if (!KUBECTL) console.warn('[deploy-manifests] kubectl not found: the overlays are not rendered, so their rules are not checked');

describe.skipIf(!KUBECTL).each(OVERLAYS)('overlay %s (kubectl kustomize)', (overlay) => {
  const rendered = KUBECTL ? new Rendered(renderKustomization(`deploy/k8s/overlays/${overlay}`)) : undefined!;
  const spec = () => rendered.deployment.spec;
  const pod = () => spec().template.spec;

  it('renders only objects that type-check against their Kubernetes schemas', () => {
    for (const o of rendered.objects) validateObject(o);
    expect(rendered.all('Service')).toHaveLength(1);
  });

  it('selects the Deployment\'s pods from the Service, the budget and the spread constraints', () => {
    expect(selects(spec().selector.matchLabels, rendered.podLabels)).toBe(true);
    const service = rendered.all('Service')[0] as K8sObject & { spec: { selector: Record<string, string>; ports: Array<{ targetPort: string | number }> } };
    expect(selects(service.spec.selector, rendered.podLabels)).toBe(true);
    for (const p of service.spec.ports) expect(rendered.containerPort(p.targetPort), `Service targetPort ${p.targetPort}`).toBe(rendered.config.server.port);
    for (const pdb of rendered.all('PodDisruptionBudget') as Array<K8sObject & { spec: { selector: { matchLabels: Record<string, string> } } }>) {
      expect(selects(pdb.spec.selector.matchLabels, rendered.podLabels)).toBe(true);
    }
    for (const t of (pod() as { topologySpreadConstraints?: Array<{ labelSelector: { matchLabels: Record<string, string> } }> }).topologySpreadConstraints ?? []) {
      expect(selects(t.labelSelector.matchLabels, rendered.podLabels)).toBe(true);
    }
  });

  it('lets a node drain proceed: the budget allows at least one eviction at the lowest replica count', () => {
    const hpa = rendered.all('HorizontalPodAutoscaler')[0] as (K8sObject & { spec: { minReplicas?: number } }) | undefined;
    const lowest = Math.min(rendered.replicas, hpa?.spec.minReplicas ?? rendered.replicas);
    for (const pdb of rendered.all('PodDisruptionBudget') as Array<K8sObject & { spec: { minAvailable?: number | string; maxUnavailable?: number | string } }>) {
      const { minAvailable, maxUnavailable } = pdb.spec;
      expect(typeof minAvailable === 'string' || typeof maxUnavailable === 'string', 'integer budgets (percentages are not checked here)').toBe(false);
      if (minAvailable !== undefined) expect(minAvailable as number).toBeLessThan(lowest);
      if (maxUnavailable !== undefined) expect(maxUnavailable as number).toBeGreaterThanOrEqual(1);
    }
  });

  it('scales the Deployment by CPU, from at least its own replica count', () => {
    for (const hpa of rendered.all('HorizontalPodAutoscaler') as Array<K8sObject & { spec: { scaleTargetRef: { apiVersion: string; kind: string; name: string }; minReplicas?: number; maxReplicas: number; metrics?: Array<{ resource?: { name: string } }> } }>) {
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: rendered.deployment.metadata.name });
      expect(hpa.spec.minReplicas ?? 1).toBeGreaterThanOrEqual(rendered.replicas);
      expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas ?? 1);
      // A utilization target is a share of the request: without one the HPA cannot compute it.
      if (hpa.spec.metrics?.some((m) => m.resource?.name === 'cpu')) expect(rendered.container.resources?.requests?.cpu).toBeDefined();
    }
  });

  it('probes the routes of the API on the container\'s port: liveness touches no dependency', () => {
    const c = rendered.container;
    expect(c.startupProbe?.httpGet?.path).toBe(LIVE_PATH);
    expect(c.livenessProbe?.httpGet?.path).toBe(LIVE_PATH);
    expect(c.readinessProbe?.httpGet?.path).toBe(READY_PATH);
    for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) {
      expect(OPENAPI_PATHS).toContain(probe!.httpGet!.path);
      expect(rendered.containerPort(probe!.httpGet!.port)).toBe(rendered.config.server.port);
    }
    // Boot (migrations on PostgreSQL) gets at least 30 s before liveness may restart the pod.
    expect((c.startupProbe!.periodSeconds ?? 10) * (c.startupProbe!.failureThreshold ?? 3)).toBeGreaterThanOrEqual(30);
  });

  it('gives the shutdown its whole sequence: preStop + delay + drain + hand-off and close fit in the grace period', () => {
    const preStopMs = (rendered.container.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
    const { delayMs, graceMs } = rendered.config.shutdown;
    const reserveMs = shutdownReserveMs(graceMs);
    const drainMs = graceMs - reserveMs - delayMs;
    // After SIGTERM: `delayMs` serving (readiness 503), then until graceMs − reserve for in-flight
    // requests, then the reserve for the hooks (batch chunk handed back, history flush, database close).
    expect(preStopMs).toBeGreaterThan(0);
    expect(delayMs).toBeGreaterThan(0);
    expect(drainMs, 'time left to finish in-flight requests').toBeGreaterThanOrEqual(10_000);
    expect(reserveMs, 'time for the hooks').toBeGreaterThanOrEqual(2000);
    const termination = (pod().terminationGracePeriodSeconds ?? 30) * 1000;
    expect(termination).toBeGreaterThanOrEqual(preStopMs + delayMs + drainMs + reserveMs + EXIT_MARGIN_MS);
  });

  it('bounds memory: the heap is at most 75 % of the limit, and readiness trips on resident memory before the limit', () => {
    const { requests, limits } = rendered.container.resources ?? {};
    expect(requests?.memory && requests.cpu).toBeTruthy();
    const limitMb = quantityBytes(limits!.memory!) / MB;
    expect(quantityBytes(requests!.memory!) / MB).toBeLessThanOrEqual(limitMb);
    expect(rendered.heapMb).toBeLessThanOrEqual(0.75 * limitMb);
    const loader = resolveLoaderConfig(optionsFromEnv(rendered.config.lazyLoader));
    expect(loader.max_memory_mb).toBeGreaterThan(rendered.heapMb);
    expect(loader.max_memory_mb).toBeLessThan(limitMb);
  });

  it('sets only known settings, valid together, and reads the Secret the example describes', () => {
    for (const name of Object.keys(rendered.configMap.data)) expect(SETTINGS, `ConfigMap ${name}`).toContain(name);
    for (const e of rendered.container.env ?? []) {
      if (!RUNTIME_VARIABLES.has(e.name)) expect(SETTINGS, `env ${e.name}`).toContain(e.name);
      const ref = e.valueFrom?.secretKeyRef;
      if (ref && !ref.optional) expect(secretValue(ref.name, ref.key), `${ref.name}/${ref.key} in secret.example.yaml`).toBeDefined();
    }
    expect(rendered.config.env).toBe('production');
  });

  it('mounts a volume under every path it writes: the root filesystem is read-only', () => {
    const loader = resolveLoaderConfig(optionsFromEnv(rendered.config.lazyLoader));
    expect(loader.enable_disk_cache).toBe(true);
    const data = rendered.volumeAt(rendered.config.dataDir);
    const cache = rendered.volumeAt(loader.disk_cache_dir);
    const tmp = rendered.volumeAt('/tmp');
    expect(data, 'DATA_DIR').toBeDefined();
    expect(cache, 'the disk tier').toBeDefined();
    expect(tmp, '/tmp').toBeDefined();
    // The disk tier's emptyDir has room for its bound, its SQLite log and free pages: past its
    // sizeLimit the kubelet evicts the pod.
    expect(quantityBytes(cache!.emptyDir!.sizeLimit!)).toBeGreaterThanOrEqual(1.25 * loader.disk_cache_max_mb * MB);
    for (const v of pod().volumes ?? []) if (v.emptyDir) expect(v.emptyDir.sizeLimit, `${v.name} sizeLimit`).toBeDefined();
    for (const m of rendered.container.volumeMounts ?? []) expect(pod().volumes?.map((v) => v.name)).toContain(m.name);
  });

  it('runs locked down: non-root (the image\'s user), read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
    const podSec = pod().securityContext ?? {};
    const sec = rendered.container.securityContext ?? {};
    expect(podSec.runAsNonRoot ?? sec.runAsNonRoot).toBe(true);
    expect(String(podSec.runAsUser ?? sec.runAsUser)).toBe(docker.last(docker.runtime, 'USER')!.split(':')[0]);
    expect(sec.readOnlyRootFilesystem).toBe(true);
    expect(sec.allowPrivilegeEscalation).toBe(false);
    expect(sec.capabilities?.drop).toEqual(['ALL']);
    expect((sec.seccompProfile ?? podSec.seccompProfile)?.type).toBe('RuntimeDefault');
  });

  if (overlay === 'embedded') {
    it('keeps one replica whose SQLite history is on the claim, and never runs two pods on it', () => {
      expect(rendered.replicas).toBe(1);
      // Recreate: a surge pod would open the same database, or wait forever for the volume on another node.
      expect(spec().strategy).toEqual({ type: 'Recreate' });
      expect(rendered.all('HorizontalPodAutoscaler')).toHaveLength(0);
      expect(rendered.config.databaseUrl).toMatch(/^sqlite:/);
      const db = rendered.volumeAt(rendered.config.databaseUrl.slice('sqlite:'.length));
      const claim = db?.persistentVolumeClaim?.claimName;
      expect(claim, 'the database file is on a PersistentVolumeClaim').toBeDefined();
      const pvc = rendered.all('PersistentVolumeClaim').find((p) => p.metadata.name === claim) as (K8sObject & { spec: { accessModes: string[] } }) | undefined;
      expect(pvc?.spec.accessModes).toEqual(['ReadWriteOnce']);
      // The disk tier is a cache: it stays off the claim.
      const loader = resolveLoaderConfig(optionsFromEnv(rendered.config.lazyLoader));
      expect(rendered.volumeAt(loader.disk_cache_dir)?.emptyDir).toBeDefined();
    });
  } else {
    it('runs three or more replicas on PostgreSQL and Redis from the Secret, rolling with no capacity lost', () => {
      expect(rendered.replicas).toBeGreaterThanOrEqual(3);
      expect(spec().strategy?.type).toBe('RollingUpdate');
      expect(spec().strategy?.rollingUpdate?.maxUnavailable).toBe(0);
      expect(Number(spec().strategy?.rollingUpdate?.maxSurge)).toBeGreaterThanOrEqual(1);
      expect(rendered.config.databaseUrl).toMatch(/^postgres(ql)?:\/\//);
      expect(rendered.config.redis.url).toMatch(/^rediss?:\/\//);
      for (const name of ['DATABASE_URL', 'REDIS_URL', 'API_KEYS']) {
        const e = rendered.container.env?.find((v) => v.name === name);
        expect(e?.valueFrom?.secretKeyRef, `${name} from the Secret`).toBeDefined();
        expect(e?.valueFrom?.secretKeyRef?.optional).not.toBe(true);
      }
      expect(rendered.all('PodDisruptionBudget')).toHaveLength(1);
      expect(rendered.all('HorizontalPodAutoscaler')).toHaveLength(1);
    });
  }
});
