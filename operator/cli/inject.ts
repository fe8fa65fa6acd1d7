/**
 * `meshwright inject -f workload.yaml [--installation mi.yaml | --from-cluster]`: the workloads of
 * a file with the mesh proxy injected, as `istioctl kube-inject` and `linkerd inject --manual` print
 * them — for manifests kept in Git, or clusters where no webhook may run.
 *
 * Each object's pod (a Pod itself, or the pod template of a Deployment, StatefulSet, DaemonSet,
 * ReplicaSet, Job or CronJob) goes through the very function the operator's webhook calls,
 * `distribution.injector.inject`, and is put back in place; a List's items and every document of a
 * multi-document file are handled alike, and objects that hold no pods (a Service, a ConfigMap...)
 * are printed as they are. Manual injection asks for the proxy, so the namespace is taken as
 * enrolled; what a pod says itself (an opt-out, host networking) is honoured as the webhook does.
 *
 * Offline (`--installation`), the trust anchors are a placeholder: the operator creates the CA in
 * the cluster. `--from-cluster` reads the installation, the namespace and the published trust
 * anchors through the kubeconfig, so the output trusts the mesh that runs.
 *
 * {@link injectDocuments} is pure; {@link injectCommand} reads the files and, with
 * `--from-cluster`, the cluster (through a loader the caller supplies).
 */
import { parseAllDocuments, stringify } from 'yaml';
import { withSpecDefaults } from '../api/defaults.ts';
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import { publishedTrustAnchorsPem } from '../controllers/meshinstallation/data-plane.ts';
import { OFFLINE_TRUST_ANCHORS_PLACEHOLDER, UnsupportedSpecError, type MeshDistribution, type ResolvedVersion } from '../distributions/distribution.ts';
import { InjectionError, POD_TEMPLATE_PATHS, type NamespaceView, type PodObject } from '../distributions/injection.ts';
import type { KubeObject } from '../runtime/kube.ts';
import { parseInstallations, RenderInputError } from './render.ts';

/** Bad input to `inject`, worded for the person who wrote it (exit code 2). */
export class InjectInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InjectInputError';
  }
}


/**
 * Kinds that hold no pods, printed unchanged (a workload file commonly carries them beside its
 * Deployments). Any kind neither here nor a workload is refused: a pod-bearing kind this command
 * does not know (an operator's custom resource) would otherwise pass through uninjected, silently.
 */
const KINDS_WITHOUT_PODS: ReadonlySet<string> = new Set([
  'Service', 'ConfigMap', 'Secret', 'ServiceAccount', 'Namespace', 'Endpoints', 'EndpointSlice', 'Ingress', 'IngressClass', 'NetworkPolicy',
  'PersistentVolumeClaim', 'PersistentVolume', 'StorageClass', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'LimitRange', 'ResourceQuota',
  'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding', 'PriorityClass',
  'Gateway', 'HTTPRoute', 'GRPCRoute', 'TCPRoute', 'TLSRoute', 'ReferenceGrant',
  'VirtualService', 'DestinationRule', 'ServiceEntry', 'Sidecar', 'PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication', 'Telemetry', 'WorkloadEntry',
  'Server', 'ServerAuthorization', 'MeshTLSAuthentication', 'NetworkAuthentication', 'ServiceProfile', 'HTTPLocalRateLimitPolicy',
]);

/** Kinds `inject` changes, for messages. */
export const INJECTABLE_KINDS: readonly string[] = ['Pod', ...Object.keys(POD_TEMPLATE_PATHS), 'List'];

/** What injection needs besides the workloads: the same inputs the webhook has. */
export interface InjectContext {
  distribution: MeshDistribution;
  installation: DefaultedMeshInstallation;
  resolved: ResolvedVersion;
  trustAnchorsPem: string;
  /** The namespace a workload lands in, as the webhook would see it. */
  namespace(name: string): NamespaceView;
  /** Namespace of objects that name none (the kubeconfig's, or `default`). */
  defaultNamespace: string;
}

/** The result of {@link injectDocuments}: the objects per document, and notes for stderr. */
export interface InjectResult {
  /** One entry per non-empty input document, in order. */
  documents: unknown[];
  /** What a person should know: objects left as they are and why. */
  notes: string[];
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Injects one pod (a Pod, or one built from a template) through the mesh's injector; returns the pod to keep. */
function injectPod(pod: PodObject, where: string, context: InjectContext, notes: string[]): PodObject {
  const namespace = pod.metadata.namespace ?? context.defaultNamespace;
  let outcome;
  try {
    outcome = context.distribution.injector!.inject({
      pod: structuredClone({ ...pod, metadata: { ...pod.metadata, namespace } }), namespace: context.namespace(namespace),
      installation: context.installation, resolved: context.resolved, trustAnchorsPem: context.trustAnchorsPem,
    });
  } catch (error) {
    if (error instanceof InjectionError) throw new InjectInputError(`${where}: ${error.message}`);
    throw error;
  }
  if (!outcome.injected) {
    notes.push(`${where}: left as it is (${outcome.reason}): ${outcome.message}`);
    return pod;
  }
  for (const warning of outcome.warnings ?? []) notes.push(`${where}: warning: ${warning}`);
  // The namespace was only the injector's context: a manifest that named none still names none.
  if (pod.metadata.namespace === undefined) {
    const { namespace: _namespace, ...metadata } = outcome.pod.metadata;
    return { ...outcome.pod, metadata };
  }
  return outcome.pod;
}

/** The pod a template stands for, as the webhook would receive it from the workload's controller. */
function podFromTemplate(template: Record<string, unknown>, owner: KubeObject): PodObject {
  const metadata = isRecord(template.metadata) ? template.metadata : {};
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { ...metadata, generateName: `${owner.metadata.name}-`, ...(owner.metadata.namespace ? { namespace: owner.metadata.namespace } : {}) },
    spec: template.spec as PodObject['spec'],
  };
}

/** `object` with its pod(s) injected; a List recurses into its items. */
function injectObject(object: unknown, where: string, context: InjectContext, notes: string[]): unknown {
  if (!isRecord(object)) throw new InjectInputError(`${where}: not a Kubernetes object (a YAML mapping with apiVersion and kind), got ${Array.isArray(object) ? 'a list' : typeof object}`);
  const { kind } = object;
  if (typeof kind !== 'string' || kind === '' || typeof object.apiVersion !== 'string') throw new InjectInputError(`${where}: apiVersion and kind are required`);
  const meta = isRecord(object.metadata) ? object.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '(unnamed)';
  const here = `${where} (${kind} ${typeof meta.namespace === 'string' ? `${meta.namespace}/` : ''}${name})`;
  if (kind === 'List' || (kind.endsWith('List') && Array.isArray(object.items))) {
    if (!Array.isArray(object.items)) throw new InjectInputError(`${here}: a List needs items`);
    return { ...object, items: object.items.map((item, index) => injectObject(item, `${where} item ${index + 1}`, context, notes)) };
  }
  if (kind === 'Pod') {
    const spec = object.spec as { containers?: unknown } | undefined;
    if (!isRecord(spec) || !Array.isArray(spec.containers)) throw new InjectInputError(`${here}: no spec.containers, so no pod to inject`);
    return injectPod({ ...object, metadata: { ...meta } } as unknown as PodObject, here, context, notes);
  }
  const path = POD_TEMPLATE_PATHS[kind];
  if (!path) {
    if (KINDS_WITHOUT_PODS.has(kind)) return object;
    throw new InjectInputError(`${here}: unknown kind ${kind}; meshwright inject injects ${INJECTABLE_KINDS.join(', ')} and prints objects without pods (Service, ConfigMap, ...) as they are`);
  }
  // Walk to the template, copying each level so the input is not changed.
  const copy = structuredClone(object);
  let parent: Record<string, unknown> = copy;
  for (const step of path.slice(0, -1)) {
    const next = parent[step];
    if (!isRecord(next)) throw new InjectInputError(`${here}: no pod template (.${path.join('.')} is missing)`);
    parent = next;
  }
  const key = path[path.length - 1]!;
  const template = parent[key];
  if (!isRecord(template) || !isRecord(template.spec) || !Array.isArray(template.spec.containers)) {
    throw new InjectInputError(`${here}: no pod template (.${path.join('.')}.spec.containers is missing)`);
  }
  const owner = { ...copy, metadata: { name, ...(typeof meta.namespace === 'string' ? { namespace: meta.namespace } : {}) } } as KubeObject;
  const pod = injectPod(podFromTemplate(template, owner), here, context, notes);
  // Back into the template: what the injector set on the pod's metadata, without the pod's own identity.
  const { generateName: _g, namespace: _n, name: _name, ...templateMetadata } = pod.metadata;
  parent[key] = { ...template, metadata: templateMetadata, spec: pod.spec };
  return copy;
}

/** Injects every document of `text` (YAML, one or more documents). */
export function injectDocuments(text: string, source: string, context: InjectContext): InjectResult {
  if (!context.distribution.injector) throw new InjectInputError(`mesh ${context.installation.spec.mesh} has no injector in this build of meshwright`);
  const notes: string[] = [];
  const documents: unknown[] = [];
  const parsed = parseAllDocuments(text);
  if (!Array.isArray(parsed)) throw new InjectInputError(`${source}: empty input`);
  parsed.forEach((document, index) => {
    const where = parsed.length > 1 ? `${source} document ${index + 1}` : source;
    if (document.errors.length > 0) throw new InjectInputError(`${where}: not valid YAML: ${document.errors[0]!.message}`);
    const value = document.toJS() as unknown;
    if (value === null || value === undefined) return;
    documents.push(injectObject(value, where, context, notes));
  });
  if (documents.length === 0) throw new InjectInputError(`${source}: no objects found`);
  return { documents, notes };
}

/** The documents as multi-document YAML or (one document) JSON, as kubectl prints them. */
export function formatDocuments(documents: readonly unknown[], output: 'yaml' | 'json'): string {
  if (output === 'json') return `${JSON.stringify(documents.length === 1 ? documents[0] : { apiVersion: 'v1', kind: 'List', items: documents }, null, 2)}\n`;
  return documents.map((document) => stringify(document, { lineWidth: 0 })).join('---\n');
}

/** What `--from-cluster` reads, through the kubeconfig. */
export interface ClusterReader {
  /** Every MeshInstallation in the cluster. */
  installations(): Promise<KubeObject[]>;
  /** A namespace, or undefined when it does not exist. */
  namespace(name: string): Promise<KubeObject | undefined>;
  /** An object in the control-plane namespace, or undefined. */
  get(kind: 'Secret' | 'ConfigMap', name: string, namespace: string): Promise<KubeObject | undefined>;
  /** The kubeconfig context's namespace, if it names one. */
  contextNamespace?: string;
}

/** Dependencies of {@link injectCommand}, so tests run it without files or a cluster. */
export interface InjectDependencies {
  distributions: readonly MeshDistribution[];
  readFile(path: string): string;
  /** Opens the cluster for `--from-cluster`. */
  cluster?(): Promise<ClusterReader>;
}

export const INJECT_USAGE = `usage:
  meshwright inject -f <file|-> (--installation <mi.yaml> | --from-cluster [--name <installation>]) [-n <namespace>] [-o yaml|json]
    prints the objects of <file> with the mesh proxy injected into every pod and pod template (Pod, Deployment,
    StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, List, several YAML documents), as the operator's webhook would;
    objects without pods (Service, ConfigMap, ...) are printed as they are.
    --installation  inject offline for the MeshInstallation in <mi.yaml>; the trust anchors are a placeholder
    --from-cluster  use the installation, namespaces and published trust anchors of the kubeconfig's cluster
    -n              namespace of objects that name none (default: the kubeconfig's, or default)`;

/** Resolves the installation's version, wording a catalog miss for the person. */
function resolveFor(distribution: MeshDistribution, installation: DefaultedMeshInstallation): ResolvedVersion {
  try {
    return distribution.resolve(installation);
  } catch (error) {
    if (error instanceof UnsupportedSpecError) throw new InjectInputError(`${installation.metadata.name}: ${error.message} (${error.reason})`);
    throw error;
  }
}

function distributionFor(distributions: readonly MeshDistribution[], installation: DefaultedMeshInstallation): MeshDistribution {
  const distribution = distributions.find((d) => d.mesh === installation.spec.mesh);
  if (!distribution) throw new InjectInputError(`${installation.metadata.name}: no distribution for mesh "${installation.spec.mesh}"`);
  if (!distribution.injector) throw new InjectInputError(`${installation.metadata.name}: mesh ${installation.spec.mesh} has no injector in this build of meshwright`);
  return distribution;
}

/** A namespace the proxy was asked for: enrolled by the mesh's label unless the namespace says otherwise itself. */
function enrolledView(name: string, labels: Record<string, string>, annotations: Record<string, string>, label: { key: string; value: string }): NamespaceView {
  return { name, labels: label.key in labels ? labels : { ...labels, [label.key]: label.value }, annotations };
}

/** The offline context: the installation from a file, placeholder trust anchors. */
function offlineContext(args: { text: string; source: string; name?: string; namespace?: string }, distributions: readonly MeshDistribution[]): InjectContext {
  let installations: DefaultedMeshInstallation[];
  try {
    installations = parseInstallations(args.text, args.source);
  } catch (error) {
    if (error instanceof RenderInputError) throw new InjectInputError(error.message);
    throw error;
  }
  const installation = pickInstallation(installations, args.name, args.source);
  const distribution = distributionFor(distributions, installation);
  const resolved = resolveFor(distribution, installation);
  const label = distribution.injector!.enrolmentLabel(installation, resolved);
  return {
    distribution, installation, resolved, trustAnchorsPem: OFFLINE_TRUST_ANCHORS_PLACEHOLDER,
    namespace: (name) => enrolledView(name, {}, {}, label), defaultNamespace: args.namespace ?? 'default',
  };
}

function pickInstallation(installations: DefaultedMeshInstallation[], name: string | undefined, source: string): DefaultedMeshInstallation {
  if (name) {
    const found = installations.find((i) => i.metadata.name === name);
    if (!found) throw new InjectInputError(`${source}: no MeshInstallation named ${name}; found ${installations.map((i) => i.metadata.name).join(', ') || 'none'}`);
    return found;
  }
  if (installations.length > 1) throw new InjectInputError(`${source}: ${installations.length} MeshInstallations (${installations.map((i) => i.metadata.name).join(', ')}); choose one with --name`);
  return installations[0]!;
}

/**
 * The context from the cluster: the installation (spec with the API server's defaults), the
 * namespaces the workloads land in and the trust anchors the mesh publishes, read once per run.
 */
async function clusterContext(reader: ClusterReader, args: { name?: string; namespace?: string; namespaces: readonly string[] }, distributions: readonly MeshDistribution[]): Promise<InjectContext> {
  const all = (await reader.installations()).map((o) => ({ ...o, spec: withSpecDefaults(o.spec as never) }) as unknown as DefaultedMeshInstallation);
  if (all.length === 0) throw new InjectInputError('the cluster has no MeshInstallation; apply one first, or inject offline with --installation <mi.yaml>');
  const installation = pickInstallation(all, args.name, 'the cluster');
  const distribution = distributionFor(distributions, installation);
  const resolved = resolveFor(distribution, installation);
  const label = distribution.injector!.enrolmentLabel(installation, resolved);
  const profile = distribution.certificateAuthority?.(installation);
  let trustAnchorsPem = '';
  if (profile) {
    const ns = installation.spec.namespace;
    const objects = (await Promise.all(profile.published.trustAnchors.filter((l) => l.writtenBy === undefined).map((l) => reader.get(l.kind, l.name, ns)))).filter((o): o is KubeObject => o !== undefined);
    const pem = publishedTrustAnchorsPem(distribution, installation, objects);
    if (!pem) throw new InjectInputError(`installation ${installation.metadata.name} has not published its trust anchors yet (in namespace ${ns}); wait until it is Ready`);
    trustAnchorsPem = pem;
  }
  const defaultNamespace = args.namespace ?? reader.contextNamespace ?? 'default';
  const views = new Map<string, NamespaceView>();
  for (const name of new Set([...args.namespaces, defaultNamespace])) {
    const found = await reader.namespace(name);
    views.set(name, enrolledView(name, found?.metadata.labels ?? {}, found?.metadata.annotations ?? {}, label));
  }
  return { distribution, installation, resolved, trustAnchorsPem, defaultNamespace, namespace: (name) => views.get(name) ?? enrolledView(name, {}, {}, label) };
}

/** Throws the first YAML syntax error of `text`, naming its document. */
function checkYaml(text: string, source: string): void {
  const documents = parseAllDocuments(text);
  documents.forEach((document, index) => {
    if (document.errors.length > 0) throw new InjectInputError(`${documents.length > 1 ? `${source} document ${index + 1}` : source}: not valid YAML: ${document.errors[0]!.message}`);
  });
}

/** Namespaces the objects of `text` name (to read them from the cluster once); unparsable text names none. */
function namespacesIn(text: string): string[] {
  const found = new Set<string>();
  const visit = (value: unknown) => {
    if (!isRecord(value)) return;
    if (Array.isArray(value.items)) value.items.forEach(visit);
    const ns = isRecord(value.metadata) ? value.metadata.namespace : undefined;
    if (typeof ns === 'string') found.add(ns);
  };
  for (const document of parseAllDocuments(text)) if (document.errors.length === 0) visit(document.toJS());
  return [...found];
}

/** Runs `inject`: returns what to print on stdout and the notes for stderr. Bad input throws {@link InjectInputError}. */
export async function injectCommand(args: { filename?: string; installation?: string; fromCluster?: boolean; name?: string; namespace?: string; output?: string }, deps: InjectDependencies): Promise<{ stdout: string; notes: string[] }> {
  if (!args.filename) throw new InjectInputError(`inject needs -f <file> (or -f - for stdin)\n${INJECT_USAGE}`);
  if (args.installation && args.fromCluster) throw new InjectInputError('give either --installation <mi.yaml> or --from-cluster, not both');
  if (!args.installation && !args.fromCluster) throw new InjectInputError(`no installation: give --installation <mi.yaml> to inject offline, or --from-cluster to use the cluster's\n${INJECT_USAGE}`);
  const output = args.output ?? 'yaml';
  if (output !== 'yaml' && output !== 'json') throw new InjectInputError(`-o must be yaml or json, got "${output}"`);
  const read = (path: string, what: string) => {
    try {
      return deps.readFile(path === '-' ? '/dev/stdin' : path);
    } catch (error) {
      throw new InjectInputError(`cannot read ${what} ${path}: ${(error as Error).message}`);
    }
  };
  const text = read(args.filename, 'workload file');
  const source = args.filename === '-' ? 'stdin' : args.filename;
  // The workloads' YAML is judged before anything else is read (the installation, the cluster).
  checkYaml(text, source);
  let context: InjectContext;
  const notes: string[] = [];
  if (args.installation) {
    context = offlineContext({ text: read(args.installation, 'installation file'), source: args.installation, name: args.name, namespace: args.namespace }, deps.distributions);
    notes.push(`offline: the trust anchors are a placeholder (the operator creates the CA in the cluster); pods injected this way show as outdated in status.dataPlane. Use --from-cluster for pods that trust the running mesh.`);
  } else {
    if (!deps.cluster) throw new InjectInputError('--from-cluster is not available here');
    context = await clusterContext(await deps.cluster(), { name: args.name, namespace: args.namespace, namespaces: namespacesIn(text) }, deps.distributions);
  }
  const result = injectDocuments(text, source, context);
  return { stdout: formatDocuments(result.documents, output), notes: [...notes, ...result.notes] };
}
