import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';

/** A rendered object: what every Kubernetes object has, the rest unknown until typed. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** The typed models of the kinds the manifests may hold; another kind is an error. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

/** Where kubectl is, or undefined (rendering specs then skip, saying why). */
export const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p));

/** `kubectl kustomize <dir>`: the objects an apply of that overlay would send. */
export function renderKustomization(dir: string): K8sObject[] {
  if (!KUBECTL) throw new Error('kubectl is not installed');
  return parseYamlObjects(execFileSync(KUBECTL, ['kustomize', dir], { encoding: 'utf8', timeout: 30_000 }));
}

export function readYamlObjects(path: string): K8sObject[] {
  return parseYamlObjects(readFileSync(path, 'utf8'));
}

function parseYamlObjects(text: string): K8sObject[] {
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as K8sObject;
  }).filter((o) => o !== null);
}

/**
 * Checks `obj` against its kind's schema (kubernetes-models): wrong types, missing required
 * fields, bad enums. Unknown fields are not caught by these schemas.
 * @throws naming the object and the first problems found.
 */
export function validateObject(obj: K8sObject): void {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (!Model) throw new Error(`${obj.apiVersion} ${obj.kind} ${obj.metadata?.name}: no model for this kind (add it to MODELS)`);
  try {
    new Model(obj as never).validate();
  } catch (err) {
    throw new Error(`${obj.kind} ${obj.metadata.name}: ${(err as Error).message}`, { cause: err });
  }
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const DECIMAL: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** A Kubernetes byte quantity (`1Gi`, `1536Mi`, `500M`, `1000000`) in bytes. */
export function quantityBytes(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = /^(\d+(?:\.\d+)?)([KMGT]i|[kMGT]?)$/.exec(q);
  if (!m) throw new Error(`not a byte quantity: ${q}`);
  const unit = m[2]!;
  return Number(m[1]) * (BINARY[unit] ?? DECIMAL[unit]!);
}
