/**
 * Test support for the conformance test: reduces a Kubernetes object to the facts we compare with
 * Istio's reference manifests (one value per aspect, e.g. `container[discovery].env:REVISION`) and
 * lists the aspects where two objects differ. Used only by conformance.test.ts.
 */
import { isDeepStrictEqual } from 'node:util';
import { parse, parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../runtime/kube.ts';

/** One difference between a reference object and ours. */
export interface Difference {
  /** The conformance case (reference file). */
  golden: string;
  /** `Kind/namespace/name` (namespace `-` when cluster-scoped). */
  object: string;
  aspect: string;
  reference: unknown;
  ours: unknown;
}

type Json = unknown;
type Facts = Map<string, Json>;

/** `Kind/namespace/name` of an object. */
export function objectKey(o: KubeObject): string {
  return `${o.kind}/${o.metadata.namespace ?? '-'}/${o.metadata.name}`;
}

/** The objects of a multi-document YAML text. */
export function parseManifests(text: string): KubeObject[] {
  return parseAllDocuments(text).map((doc) => doc.toJS() as KubeObject | null).filter((o): o is KubeObject => o !== null && typeof o === 'object' && 'kind' in o);
}

/**
 * Drops nulls (an explicit null in a manifest means "absent"), and objects that only held nulls;
 * a literal `{}` stays (e.g. `emptyDir: {}`).
 */
export function prune(value: Json): Json {
  if (Array.isArray(value)) return value.map(prune);
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, Json>).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, prune(v)] as const).filter(([, v]) => v !== undefined);
  if (entries.length === 0 && Object.keys(value).length > 0) return undefined;
  return Object.fromEntries(entries);
}

/** Adds `prefix<key>` facts for every entry of a map. */
function addMap(facts: Facts, prefix: string, map: Record<string, Json> | undefined): void {
  for (const [key, value] of Object.entries(map ?? {})) facts.set(`${prefix}${key}`, value);
}

/** Adds `prefix[<name>]…` facts for every named element of a list. */
function addNamed(facts: Facts, prefix: string, list: Array<Record<string, Json>> | undefined, add: (p: string, item: Record<string, Json>) => void): void {
  for (const item of list ?? []) add(`${prefix}[${String(item.name)}]`, item);
}

/** Splits an image reference into its name (last path segment) and where it comes from. */
function imageParts(image: string): { name: string; registryAndTag: string } {
  const slash = image.lastIndexOf('/');
  const [name, tag] = image.slice(slash + 1).split(':');
  return { name: name!, registryAndTag: `${image.slice(0, Math.max(slash, 0))}:${tag ?? ''}` };
}

function containerFacts(facts: Facts, prefix: string, c: Record<string, Json>): void {
  const { name, registryAndTag } = imageParts(String(c.image));
  facts.set(`${prefix}.image`, name);
  facts.set(`${prefix}.image.registryAndTag`, registryAndTag);
  for (const field of ['args', 'ports', 'readinessProbe', 'livenessProbe', 'startupProbe', 'resources', 'securityContext']) facts.set(`${prefix}.${field}`, c[field]);
  for (const env of (c.env ?? []) as Array<Record<string, Json>>) facts.set(`${prefix}.env:${String(env.name)}`, env.valueFrom ?? env.value ?? '');
  for (const mount of (c.volumeMounts ?? []) as Array<Record<string, Json>>) facts.set(`${prefix}.volumeMount:${String(mount.name)}`, mount);
}

function podFacts(facts: Facts, template: Record<string, Json>): void {
  const metadata = (template.metadata ?? {}) as Record<string, Record<string, Json>>;
  addMap(facts, 'podLabel:', metadata.labels);
  addMap(facts, 'podAnnotation:', metadata.annotations);
  const pod = (template.spec ?? {}) as Record<string, Json>;
  for (const field of ['serviceAccountName', 'securityContext', 'tolerations', 'affinity', 'nodeSelector', 'priorityClassName', 'terminationGracePeriodSeconds']) facts.set(`pod.${field}`, pod[field]);
  addNamed(facts, 'container', pod.containers as Array<Record<string, Json>>, (p, c) => containerFacts(facts, p, c));
  addNamed(facts, 'initContainer', pod.initContainers as Array<Record<string, Json>>, (p, c) => containerFacts(facts, p, c));
  for (const volume of (pod.volumes ?? []) as Array<Record<string, Json>>) facts.set(`volume:${String(volume.name)}`, volume);
}

function crdFacts(facts: Facts, spec: Record<string, Json>): void {
  for (const field of ['group', 'names', 'scope']) facts.set(field, spec[field]);
  for (const v of (spec.versions ?? []) as Array<Record<string, Json>>) {
    const p = `version[${String(v.name)}]`;
    for (const field of ['served', 'storage', 'deprecated', 'subresources', 'schema']) facts.set(`${p}.${field}`, v[field]);
    const columns = (v.additionalPrinterColumns ?? []) as Array<Record<string, Json>>;
    facts.set(`${p}.printerColumns`, columns.map(({ name, type, jsonPath, priority }) => ({ name, type, jsonPath, priority })));
    facts.set(`${p}.printerColumnDescriptions`, columns.map((c) => c.description));
  }
}

/** The facts of one object that conformance compares. */
export function factsOf(o: KubeObject): Facts {
  const object = prune(o) as KubeObject & Record<string, Json>;
  const facts: Facts = new Map();
  addMap(facts, 'label:', object.metadata.labels);
  addMap(facts, 'annotation:', object.metadata.annotations);
  const spec = (object.spec ?? {}) as Record<string, Json>;
  switch (object.kind) {
    case 'Deployment':
      for (const field of ['replicas', 'selector', 'strategy']) facts.set(field, spec[field]);
      podFacts(facts, spec.template as Record<string, Json>);
      break;
    case 'Service':
      for (const field of ['type', 'ports', 'selector']) facts.set(field, spec[field]);
      break;
    case 'HorizontalPodAutoscaler':
    case 'PodDisruptionBudget':
    case 'PeerAuthentication':
      facts.set('spec', spec);
      break;
    case 'ClusterRole':
    case 'Role':
      facts.set('rules', object.rules);
      break;
    case 'ClusterRoleBinding':
    case 'RoleBinding':
      facts.set('roleRef', object.roleRef);
      facts.set('subjects', object.subjects);
      break;
    case 'ValidatingWebhookConfiguration':
    case 'MutatingWebhookConfiguration':
      addNamed(facts, 'webhook', object.webhooks as Array<Record<string, Json>>, (p, w) => {
        for (const field of ['clientConfig', 'rules', 'objectSelector', 'namespaceSelector', 'failurePolicy', 'sideEffects', 'admissionReviewVersions', 'matchPolicy', 'timeoutSeconds', 'reinvocationPolicy']) facts.set(`${p}.${field}`, w[field]);
      });
      break;
    case 'ConfigMap':
    case 'Secret':
      for (const [key, value] of Object.entries((object.data ?? {}) as Record<string, string>)) {
        // The mesh config is YAML in a string: compare it setting by setting.
        if (object.kind === 'ConfigMap' && key === 'mesh') addMap(facts, 'data:mesh.', parse(value) as Record<string, Json>);
        else facts.set(`data:${key}`, value);
      }
      break;
    case 'CustomResourceDefinition':
      crdFacts(facts, spec);
      break;
  }
  for (const [aspect, value] of facts) if (value === undefined) facts.delete(aspect);
  return facts;
}

/** The aspects in which `ours` differs from `reference` (either may be missing). */
export function compareObjects(golden: string, reference: KubeObject | undefined, ours: KubeObject | undefined): Difference[] {
  const object = objectKey((reference ?? ours)!);
  if (!reference || !ours) return [{ golden, object, aspect: 'object', reference: reference ? 'present' : 'absent', ours: ours ? 'present' : 'absent' }];
  const [r, o] = [factsOf(reference), factsOf(ours)];
  const aspects = [...new Set([...r.keys(), ...o.keys()])].sort();
  return aspects.filter((aspect) => !isDeepStrictEqual(r.get(aspect), o.get(aspect))).map((aspect) => ({ golden, object, aspect, reference: r.get(aspect), ours: o.get(aspect) }));
}
