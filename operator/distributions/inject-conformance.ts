/**
 * Injection conformance: our injectors judged against upstream's own injection vectors. A vector is
 * an input workload, the settings upstream's test injected it with (mapped to a MeshInstallation
 * spec, a namespace and request options) and what upstream's injector gave: a file of objects, a
 * JSON patch (a webhook's answer), an error, or "left unchanged". A vector we do not reproduce on
 * purpose is named out of scope with its reason, so every upstream vector is accounted for.
 *
 * Pure apart from reading the table's files. The tables live beside each mesh
 * (`<mesh>/testdata/inject-vectors.ts`); more can be given in a JSON or YAML file (see
 * INJECT-VECTORS.md and {@link loadVectorTableFile}). Comparison is structural (manifest-diff.ts:
 * named list items by name, their order separately) and ignores what only meshwright writes: the
 * `meshwright.dev/*` labels and annotations of the injection record.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { withSpecDefaults } from '../api/defaults.ts';
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import { MESHES, type Mesh, type MeshInstallationSpec } from '../api/spec.ts';
import type { KubeObject } from '../runtime/kube.ts';
import { sameQuantity } from '../runtime/quantity.ts';
import type { ResolvedVersion } from './distribution.ts';
import { InjectionError, POD_TEMPLATE_PATHS, type InjectionOutcome, type InjectionRequest, type NamespaceView, type PodObject, type SidecarInjector } from './injection.ts';
import { applyJsonPatch, type JsonPatchOperation } from './json-patch.ts';
import { diffObject, type Difference } from './linkerd/manifest-diff.ts';

/** A difference from upstream's output that a vector expects, and why (e.g. a value only the upstream CLI writes). */
export interface NamedDifference {
  /** The path exactly as manifest-diff.ts writes it, e.g. `metadata.annotations["linkerd.io/created-by"]`. */
  path: string;
  why: string;
}

/**
 * One upstream injection vector. File paths are relative to the table's `baseDir`. Exactly one of
 * `expected`, `expectedPatch`, `expectedError`, `expectedUnchanged` or `outOfScope` says what
 * upstream's injector gave.
 */
export interface InjectVector {
  /** Unique in its table; upstream's case name where it has one. */
  name: string;
  /** The mesh, when the table mixes meshes (a JSON/YAML table); a TypeScript table sets it once. */
  mesh?: Mesh;
  /** The input workload: YAML, one or more documents (Pod, Deployment, ..., List). Optional only when out of scope. */
  input?: string;
  /** Expected output objects (YAML, as many documents as the input). */
  expected?: string;
  /** Expected JSON patch (RFC 6902) of upstream's webhook for the input pod (a Pod, or the pod template of a workload). */
  expectedPatch?: string;
  /** Upstream refuses the input: our injector must throw an InjectionError whose message matches this (a regular expression). */
  expectedError?: string;
  /** Upstream leaves the input as it is (opt-out, host networking, already injected ...): our injector must skip it. */
  expectedUnchanged?: true;
  /** Why this vector is not compared (something meshwright deliberately does not do). */
  outOfScope?: string;
  /**
   * The MeshInstallation spec the upstream settings map to (partial: over the mesh's default spec —
   * the table's mesh, its newest catalog version, its usual control-plane namespace — then
   * defaulted with `withSpecDefaults`).
   */
  spec?: Partial<MeshInstallationSpec>;
  /** The MeshInstallation's name (default `mesh`'s own name: `istio` or `linkerd`). */
  installationName?: string;
  /**
   * The namespace the pods are created in. Unset fields: the workload's `metadata.namespace`
   * (else `default`), no labels, no annotations. `file` reads a Namespace object (YAML) instead.
   */
  namespace?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string>; file?: string };
  /** Request options. */
  request?: {
    /** InjectionRequest.nativeSidecars. */
    nativeSidecars?: boolean;
    /** Replaces the resolved version string (e.g. an upstream test's placeholder proxy version). */
    version?: string;
    /** Replaces images of the resolved version, by component (as `ResolvedVersion.images`). */
    images?: Record<string, string>;
    /** The trust anchors given to the proxy: a PEM file. Unset: the table's `trustAnchorsFile`. */
    trustAnchorsFile?: string;
  };
  /** Differences from upstream's output this vector expects; each must occur (so the list stays current). */
  namedDifferences?: NamedDifference[];
  /**
   * Further upstream files this vector accounts for (an out-of-scope vector's input and expected
   * files, say), so a coverage check can show that every file of a vector folder is accounted for.
   */
  covers?: string[];
}

/** A table of vectors of one mesh, with where its files are. */
export interface InjectVectorTable {
  mesh: Mesh;
  /** Absolute directory the vectors' file paths are relative to. */
  baseDir: string;
  /** Default trust anchors PEM file (relative to baseDir) for vectors that name none. */
  trustAnchorsFile?: string;
  /**
   * The expected files were written by a Go serializer with `omitempty` (Linkerd's CLI): where the
   * expectation has nothing, a zero value of ours (0, false, "", {}, []) counts as absent too.
   */
  expectedOmitsEmpty?: boolean;
  vectors: InjectVector[];
}

/** What a mesh provides to the harness: its injector and how a spec resolves to a version. */
export interface ConformanceSubject {
  injector: SidecarInjector;
  resolve(installation: DefaultedMeshInstallation): ResolvedVersion;
  /** What a vector's spec starts from (at least a version and a control-plane namespace); the vector's spec goes over it. */
  defaultSpec: Partial<MeshInstallationSpec>;
}

/** The verdict on one vector. */
export type VectorResult =
  | { name: string; mesh: Mesh; status: 'outOfScope'; reason: string }
  | { name: string; mesh: Mesh; status: 'equal'; namedDifferences: number }
  | { name: string; mesh: Mesh; status: 'different'; differences: string[] };

/** Match rate of one mesh's in-scope vectors. */
export interface MeshSummary {
  mesh: Mesh;
  equal: number;
  inScope: number;
  /** Percentage of in-scope vectors equal (100 when there are none). */
  percent: number;
  outOfScope: Array<{ name: string; reason: string }>;
  different: Array<{ name: string; differences: string[] }>;
  /** Equal vectors whose only differences were named in the table, with how many. */
  equalWithNamedDifferences: Array<{ name: string; count: number }>;
}

/** The shared reference data (`../shared/reference` beside the repository, as CI lays it out). */
export function sharedReferenceDir(): string {
  return fileURLToPath(new URL('../../../shared/reference/', import.meta.url));
}


const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Label and annotation values as strings, wherever metadata appears: the API (and upstream's
 * type-directed YAML decoding) reads `inject: true` as the string "true".
 */
function stringifyMetadataValues(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(stringifyMetadataValues);
  if (!isRecord(node)) return;
  const metadata = node.metadata;
  if (isRecord(metadata)) {
    for (const key of ['labels', 'annotations']) {
      const map = metadata[key];
      if (isRecord(map)) for (const [k, v] of Object.entries(map)) if (v !== null && typeof v !== 'string') map[k] = String(v);
    }
  }
  Object.values(node).forEach(stringifyMetadataValues);
}

/** Every YAML document of a file (empty documents skipped). */
function readDocuments(path: string): KubeObject[] {
  const objects = parseAllDocuments(readFileSync(path, 'utf8'))
    .map((doc) => doc.toJS({ maxAliasCount: -1 }) as unknown)
    .filter((o): o is KubeObject => isRecord(o));
  objects.forEach(stringifyMetadataValues);
  return objects;
}

/** A Go zero value (what `omitempty` leaves out). */
function isGoZero(value: unknown): boolean {
  return value === 0 || value === false || value === '' || (Array.isArray(value) && value.length === 0) || (isRecord(value) && Object.keys(value).length === 0);
}

/** Fails with the table's location when a row is malformed (a person edits these files). */
function checkVector(vector: unknown, where: string): InjectVector {
  if (!isRecord(vector)) throw new Error(`${where}: a vector must be an object, got ${JSON.stringify(vector)}`);
  if (typeof vector.name !== 'string' || !vector.name) throw new Error(`${where}: a vector needs a name`);
  if (vector.outOfScope === undefined && (typeof vector.input !== 'string' || !vector.input)) {
    throw new Error(`${where} (${vector.name}): "input" must name the input workload file`);
  }
  if (vector.outOfScope !== undefined && (typeof vector.outOfScope !== 'string' || !vector.outOfScope.trim())) {
    throw new Error(`${where} (${vector.name}): "outOfScope" must say why the vector is not compared`);
  }
  const verdicts = ['expected', 'expectedPatch', 'expectedError', 'expectedUnchanged', 'outOfScope'].filter((k) => vector[k] !== undefined);
  if (verdicts.length !== 1) {
    throw new Error(`${where} (${vector.name}): exactly one of expected, expectedPatch, expectedError, expectedUnchanged, outOfScope is needed, got ${verdicts.length ? verdicts.join(', ') : 'none'}`);
  }
  if (vector.mesh !== undefined && !(MESHES as readonly unknown[]).includes(vector.mesh)) {
    throw new Error(`${where} (${vector.name}): mesh must be one of ${MESHES.join(', ')}, got ${JSON.stringify(vector.mesh)}`);
  }
  return vector as unknown as InjectVector;
}

/**
 * Reads a table file (JSON or YAML, see INJECT-VECTORS.md): either a list of vectors, each with its
 * `mesh`, or `{ mesh?, trustAnchorsFile?, expectedOmitsEmpty?, vectors: [...] }`. File paths in it are relative to the
 * file. Returns one table per mesh.
 */
export function loadVectorTableFile(path: string): InjectVectorTable[] {
  const absolute = resolvePath(path);
  if (!existsSync(absolute)) throw new Error(`injection vector table ${absolute} does not exist`);
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(absolute, 'utf8')); // YAML is a superset of JSON
  } catch (error) {
    throw new Error(`injection vector table ${absolute} is neither JSON nor YAML: ${(error as Error).message}`);
  }
  const top = Array.isArray(parsed) ? { vectors: parsed } : parsed;
  if (!isRecord(top) || !Array.isArray(top.vectors)) {
    throw new Error(`injection vector table ${absolute} must be a list of vectors or an object with a "vectors" list`);
  }
  const defaultMesh = top.mesh;
  if (defaultMesh !== undefined && !(MESHES as readonly unknown[]).includes(defaultMesh)) {
    throw new Error(`injection vector table ${absolute}: mesh must be one of ${MESHES.join(', ')}, got ${JSON.stringify(defaultMesh)}`);
  }
  const byMesh = new Map<Mesh, InjectVectorTable>();
  top.vectors.forEach((raw, i) => {
    const vector = checkVector(raw, `${absolute}: vector ${i}`);
    const mesh = vector.mesh ?? (defaultMesh as Mesh | undefined);
    if (!mesh) throw new Error(`${absolute}: vector ${i} (${vector.name}) names no mesh, and the table sets none`);
    let table = byMesh.get(mesh);
    if (!table) {
      table = {
        mesh, baseDir: dirname(absolute), vectors: [],
        ...(typeof top.trustAnchorsFile === 'string' ? { trustAnchorsFile: top.trustAnchorsFile } : {}),
        ...(top.expectedOmitsEmpty === true ? { expectedOmitsEmpty: true } : {}),
      };
      byMesh.set(mesh, table);
    }
    table.vectors.push(vector);
  });
  return [...byMesh.values()];
}

/** Checks a TypeScript table the same way a file is checked (names unique, one verdict each). */
export function checkVectorTable(table: InjectVectorTable): InjectVectorTable {
  const seen = new Set<string>();
  table.vectors.forEach((v, i) => {
    checkVector(v, `${table.mesh} vector ${i}`);
    if (seen.has(v.name)) throw new Error(`${table.mesh} vector table: the name ${v.name} is used twice`);
    seen.add(v.name);
  });
  return table;
}

/** Where a document keeps its pod template, if it has one. */
function podTemplateOf(object: Record<string, unknown>): Record<string, unknown> | undefined {
  const path = POD_TEMPLATE_PATHS[String(object.kind)];
  if (!path) return undefined;
  let at: unknown = object;
  for (const key of path) at = isRecord(at) ? at[key] : undefined;
  return isRecord(at) ? at : undefined;
}

/**
 * Injects every pod (a Pod, or a workload's pod template, inside Lists too) of `object` with
 * `injectPod`; returns a new object. Other objects come back unchanged.
 */
export function injectWorkload(object: KubeObject, injectPod: (pod: PodObject, owner?: KubeObject) => PodObject): KubeObject {
  const copy = structuredClone(object) as KubeObject & Record<string, unknown>;
  if (copy.kind === 'List' && Array.isArray(copy.items)) {
    copy.items = (copy.items as unknown[]).map((item) => (isRecord(item) ? injectWorkload(item as unknown as KubeObject, injectPod) : item));
    return copy;
  }
  if (copy.kind === 'Pod') {
    return injectPod(copy as unknown as PodObject) as unknown as KubeObject;
  }
  const template = podTemplateOf(copy);
  if (!template || !isRecord(template.spec)) return copy;
  const pod: PodObject = {
    metadata: { ...(isRecord(template.metadata) ? template.metadata : {}), namespace: object.metadata.namespace },
    spec: template.spec as PodObject['spec'],
  };
  if (!pod.metadata.namespace) delete pod.metadata.namespace;
  const injected = injectPod(pod, object);
  const { namespace: _namespace, ...metadata } = injected.metadata;
  template.metadata = metadata;
  template.spec = injected.spec;
  return copy;
}

/** The only pod of an input (a Pod or one workload's template), for vectors with an expected patch. */
function onlyPod(objects: KubeObject[], where: string): PodObject {
  const pods: PodObject[] = [];
  for (const o of objects) injectWorkload(o, (pod) => (pods.push(structuredClone(pod)), pod));
  if (pods.length !== 1) throw new Error(`${where}: an expected patch needs exactly one pod in the input, found ${pods.length}`);
  return pods[0]!;
}

/** Removes what only meshwright writes (`meshwright.dev/*` labels and annotations) from every pod metadata in `value`. */
export function withoutMeshwrightMarks<T>(value: T): T {
  const copy = structuredClone(value);
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!isRecord(node)) return;
    for (const key of ['labels', 'annotations'] as const) {
      const map = node[key];
      if (!isRecord(map)) continue;
      for (const k of Object.keys(map)) if (k.startsWith('meshwright.dev/')) delete map[k];
      if (Object.keys(map).length === 0) delete node[key];
    }
    Object.values(node).forEach(visit);
  };
  visit(copy);
  return copy;
}

/** Whether a difference's path is a container resource quantity. */
function isQuantityPath(path: string): boolean {
  return /\.resources\.(limits|requests)(\.[A-Za-z0-9_-]+|\["[^"]+"\])$/.test(path);
}

function differencesToText(differences: readonly Difference[]): string[] {
  return differences.map((d) => `${d.path || '<root>'}: expected ${JSON.stringify(d.expected)}, got ${JSON.stringify(d.actual)}`);
}

/** Runs one vector of `table` against `subject` and judges it. */
export function runVector(table: InjectVectorTable, vector: InjectVector, subject: ConformanceSubject): VectorResult {
  const mesh = table.mesh;
  const { name } = vector;
  if (vector.outOfScope !== undefined) return { name, mesh, status: 'outOfScope', reason: vector.outOfScope };
  // A file a vector names, resolved against the table; a missing one is named with its vector.
  const file = (relative: string) => {
    const path = isAbsolute(relative) ? relative : resolvePath(table.baseDir, relative);
    if (!existsSync(path)) throw new Error(`${mesh} vector ${name}: ${relative} does not exist (looked for ${path})`);
    return path;
  };

  const spec = withSpecDefaults({ mesh, ...subject.defaultSpec, ...vector.spec } as MeshInstallationSpec);
  const installation = {
    apiVersion: 'meshwright.dev/v1alpha1',
    kind: 'MeshInstallation',
    metadata: { name: vector.installationName ?? mesh },
    spec,
  } as DefaultedMeshInstallation;
  const base = subject.resolve(installation);
  const resolved: ResolvedVersion = {
    ...base,
    ...(vector.request?.version ? { version: vector.request.version } : {}),
    images: { ...base.images, ...vector.request?.images },
  };
  const anchorsFile = vector.request?.trustAnchorsFile ?? table.trustAnchorsFile;
  const trustAnchorsPem = anchorsFile ? readFileSync(file(anchorsFile), 'utf8') : '';
  const namespaceFile = vector.namespace?.file ? readDocuments(file(vector.namespace.file))[0] : undefined;
  const namespaceOf = (pod: PodObject): NamespaceView => ({
    name: namespaceFile?.metadata.name ?? vector.namespace?.name ?? pod.metadata.namespace ?? 'default',
    labels: { ...(namespaceFile?.metadata.labels as Record<string, string> | undefined), ...vector.namespace?.labels },
    annotations: { ...(namespaceFile?.metadata.annotations as Record<string, string> | undefined), ...vector.namespace?.annotations },
  });
  const input = readDocuments(file(vector.input!));
  const outcomes: InjectionOutcome[] = [];
  const injectPod = (pod: PodObject, owner?: KubeObject): PodObject => {
    // A template injected outside admission names its workload, as `istioctl kube-inject` and
    // `linkerd inject` know it (InjectionRequest.workload).
    const workload = owner ? { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name ?? '', ...(owner.metadata.namespace ? { namespace: owner.metadata.namespace } : {}) } : undefined;
    const request: InjectionRequest = {
      pod, namespace: namespaceOf(pod), installation, resolved, trustAnchorsPem,
      ...(vector.request?.nativeSidecars !== undefined ? { nativeSidecars: vector.request.nativeSidecars } : {}),
      ...(workload ? { workload } : {}),
    };
    const outcome = subject.injector.inject(request);
    outcomes.push(outcome);
    return outcome.injected ? outcome.pod : pod;
  };

  if (vector.expectedError !== undefined) {
    try {
      input.forEach((o) => injectWorkload(o, injectPod));
    } catch (error) {
      if (!(error instanceof InjectionError)) return { name, mesh, status: 'different', differences: [`expected an InjectionError, got ${String(error)}`] };
      return new RegExp(vector.expectedError).test(error.message)
        ? { name, mesh, status: 'equal', namedDifferences: 0 }
        : { name, mesh, status: 'different', differences: [`error message ${JSON.stringify(error.message)} does not match /${vector.expectedError}/`] };
    }
    return { name, mesh, status: 'different', differences: [`expected an InjectionError matching /${vector.expectedError}/, the input was admitted`] };
  }

  let expected: unknown[];
  let actual: unknown[];
  try {
    if (vector.expectedPatch !== undefined) {
      const pod = onlyPod(input, vector.input!);
      const patch = JSON.parse(readFileSync(file(vector.expectedPatch), 'utf8')) as JsonPatchOperation[];
      expected = [applyJsonPatch(pod, patch)];
      actual = [injectPod(structuredClone(pod))];
    } else {
      expected = vector.expectedUnchanged ? input : readDocuments(file(vector.expected!));
      actual = input.map((o) => injectWorkload(o, injectPod));
    }
  } catch (error) {
    if (error instanceof InjectionError) return { name, mesh, status: 'different', differences: [`refused: ${error.message}`] };
    throw error;
  }
  const problems: string[] = [];
  if (vector.expectedUnchanged) {
    const injected = outcomes.filter((o) => o.injected).length;
    if (injected) problems.push(`expected no pod injected, ${injected} were`);
  }
  if (expected.length !== actual.length) problems.push(`expected ${expected.length} objects, got ${actual.length}`);
  const differences: Difference[] = [];
  for (let i = 0; i < Math.min(expected.length, actual.length); i++) {
    differences.push(...diffObject(withoutMeshwrightMarks(expected[i]) as KubeObject, withoutMeshwrightMarks(actual[i]) as KubeObject));
  }
  const named = vector.namedDifferences ?? [];
  // Quantities compare by value: the API server (and upstream's Go serializer) stores `0.5` as `500m`.
  const real = differences
    .filter((d) => !(isQuantityPath(d.path) && typeof d.expected === 'string' && typeof d.actual === 'string' && sameQuantity(d.expected, d.actual)))
    .filter((d) => !(table.expectedOmitsEmpty && d.expected === undefined && isGoZero(d.actual)));
  const unexplained = real.filter((d) => !named.some((n) => n.path === d.path));
  for (const n of named) {
    if (!real.some((d) => d.path === n.path)) problems.push(`named difference ${n.path} (${n.why}) no longer occurs: remove it from the table`);
  }
  problems.push(...differencesToText(unexplained));
  return problems.length ? { name, mesh, status: 'different', differences: problems } : { name, mesh, status: 'equal', namedDifferences: named.length };
}

/** Runs every vector of `tables` with the subject of its mesh; a mesh without a subject is left out. */
export function runTables(tables: readonly InjectVectorTable[], subjects: Partial<Record<Mesh, ConformanceSubject>>): VectorResult[] {
  const results: VectorResult[] = [];
  for (const table of tables) {
    const subject = subjects[table.mesh];
    if (!subject) continue;
    for (const vector of checkVectorTable(table).vectors) results.push(runVector(table, vector, subject));
  }
  return results;
}

/** The match rate per mesh (meshes in `MESHES` order, only those with results). */
export function summarize(results: readonly VectorResult[]): MeshSummary[] {
  return MESHES.flatMap((mesh) => {
    const own = results.filter((r) => r.mesh === mesh);
    if (!own.length) return [];
    const inScope = own.filter((r) => r.status !== 'outOfScope');
    const equal = inScope.filter((r) => r.status === 'equal').length;
    return [{
      mesh,
      equal,
      inScope: inScope.length,
      percent: inScope.length ? (100 * equal) / inScope.length : 100,
      outOfScope: own.flatMap((r) => (r.status === 'outOfScope' ? [{ name: r.name, reason: r.reason }] : [])),
      different: own.flatMap((r) => (r.status === 'different' ? [{ name: r.name, differences: r.differences }] : [])),
      equalWithNamedDifferences: own.flatMap((r) => (r.status === 'equal' && r.namedDifferences > 0 ? [{ name: r.name, count: r.namedDifferences }] : [])),
    }];
  });
}

/** The one-line report: `injection conformance: istio N/M in-scope vectors equal (P %), linkerd ...`. */
export function formatSummaryLine(summaries: readonly MeshSummary[]): string {
  return `injection conformance: ${summaries.map((s) => `${s.mesh} ${s.equal}/${s.inScope} in-scope vectors equal (${s.percent.toFixed(1)} %)`).join(', ')}`;
}
