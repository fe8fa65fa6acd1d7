/**
 * How the API server merges each field of a kind, read from its own schema: the OpenAPI v3
 * document of a group/version (`/openapi/v3/apis/<group>/<version>`, `/openapi/v3/api/v1`) or a
 * CustomResourceDefinition's `openAPIV3Schema`. Pure: documents in, a {@link SchemaNode} tree out.
 *
 * Server-side apply merges by these rules, so drift detection must compare by them too:
 * - an **atomic** list (RBAC subjects and rules, webhook rules, container args) is one value: the
 *   manager that applies it replaces it whole, and an element someone else added is a change to
 *   *our* field;
 * - a **map** list (containers by name, ports by containerPort+protocol) holds one field per key:
 *   an element with another key is another field, possibly another manager's;
 * - a **set** holds one field per value, likewise;
 * - an **atomic** map (`x-kubernetes-map-type: atomic`: a Service's selector, a pod's
 *   nodeSelector, a LabelSelector, RoleRef) is one value like an atomic list, and so is everything
 *   inside an atomic list or map.
 *
 * The rules are those of Kubernetes' structured-merge-diff (kube-openapi's `schemaconv`): a list
 * without `x-kubernetes-list-type` is a map list keyed by its `x-kubernetes-patch-merge-key` when
 * its patch strategy merges (built-in types from before list types existed), a set when it merges
 * without a key, and otherwise atomic.
 */

/** How a list merges. */
export type ListType =
  | { readonly type: 'atomic' }
  | { readonly type: 'map'; readonly keys: readonly string[] }
  | { readonly type: 'set' };

/** What the schema says about one field: its shape, how it merges, its children's schemas. */
export interface SchemaNode {
  /** `object`, `array` or a scalar type; undefined when the schema does not say (anything goes). */
  readonly type?: string;
  /** For a list: how it merges (undefined: atomic, as server-side apply treats it). */
  readonly listType?: ListType;
  /** For an object: `atomic` when it is replaced whole. */
  readonly mapType?: 'atomic' | 'granular';
  /** Known fields of a struct. */
  readonly properties?: ReadonlyMap<string, SchemaNode>;
  /** The schema of every value of a map whose keys are free (labels, a selector, ConfigMap data). */
  readonly additionalProperties?: SchemaNode;
  /** The schema of a list's elements. */
  readonly items?: SchemaNode;
  /** The value the API server defaults the field to (used for map-list keys such as a port's protocol). */
  readonly default?: unknown;
}

/**
 * The schema of a kind the API server did not describe to us (not loaded, not served, or fields
 * under `x-kubernetes-preserve-unknown-fields`): every list in it is compared as atomic.
 *
 * Why atomic is the safe guess: a false "needs apply" costs one server-side apply, which changes
 * nothing when the object already holds what we declare; a false "in sync" (treating an atomic
 * list as a map list and so ignoring an element someone added, such as a subject on our
 * ClusterRoleBinding) leaves that change — a privilege escalation — in place until something else
 * happens to trigger a write.
 */
export const UNKNOWN_SCHEMA: SchemaNode = Object.freeze({});

const ATOMIC: ListType = Object.freeze({ type: 'atomic' });

/** The schema of the field `key` of an object whose schema is `node` (unknown when not described). */
export function fieldSchema(node: SchemaNode, key: string): SchemaNode {
  return node.properties?.get(key) ?? node.additionalProperties ?? UNKNOWN_SCHEMA;
}

/** The schema of the elements of a list whose schema is `node`. */
export function itemSchema(node: SchemaNode): SchemaNode {
  return node.items ?? UNKNOWN_SCHEMA;
}

/** How a list whose schema is `node` merges; atomic when the schema does not say. */
export function listTypeOf(node: SchemaNode): ListType {
  return node.listType ?? ATOMIC;
}

/** Whether an object whose schema is `node` is a map with free keys rather than a struct with known fields. */
export function isFreeFormMap(node: SchemaNode): boolean {
  return node.additionalProperties !== undefined && node.properties === undefined;
}

/**
 * How the list at `path` merges, from the kind's root schema: `path` is the field's keys from the
 * object's root, list indexes left out (as `isSubset` tracks it). A list nested in an atomic list
 * or map is part of that one value, so it is atomic whatever its own schema says.
 */
export function listSemantics(root: SchemaNode, path: readonly string[]): ListType {
  let node = root;
  let atomic = false;
  for (const key of path) {
    if (node.type === 'array' || node.items) {
      atomic ||= listTypeOf(node).type === 'atomic';
      node = itemSchema(node);
    }
    atomic ||= node.mapType === 'atomic';
    node = fieldSchema(node, key);
  }
  return atomic ? ATOMIC : listTypeOf(node);
}

type RawSchema = Record<string, unknown>;

const isRecord = (value: unknown): value is RawSchema => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The list type declared by a raw schema's extensions, per structured-merge-diff's rules. */
function rawListType(raw: RawSchema): ListType | undefined {
  switch (raw['x-kubernetes-list-type']) {
    case 'atomic': return ATOMIC;
    case 'set': return { type: 'set' };
    case 'map': {
      const keys = raw['x-kubernetes-list-map-keys'];
      return Array.isArray(keys) && keys.length > 0 ? { type: 'map', keys: keys.map(String) } : ATOMIC;
    }
  }
  const strategy = raw['x-kubernetes-patch-strategy'];
  if (typeof strategy === 'string' && strategy.split(',').includes('merge')) {
    const key = raw['x-kubernetes-patch-merge-key'];
    return typeof key === 'string' ? { type: 'map', keys: [key] } : { type: 'set' };
  }
  return undefined;
}

/**
 * Compiles raw OpenAPI v3 schemas (with `$ref`s into `components`) into {@link SchemaNode}s.
 * Recursive types (a CRD's JSONSchemaProps) become cyclic node graphs: each referenced component
 * is compiled once and its node shared.
 */
class SchemaCompiler {
  private readonly compiled = new Map<string, SchemaNode>();

  constructor(private readonly components: Readonly<Record<string, unknown>> = {}) {}

  /** The node of the component `name` (compiled on first use). */
  component(name: string): SchemaNode {
    const done = this.compiled.get(name);
    if (done) return done;
    // The shell is registered before its fields are compiled, so a reference back to it resolves.
    const shell: Mutable<SchemaNode> = {};
    this.compiled.set(name, shell);
    const raw = this.components[name];
    if (!isRecord(raw)) return shell;
    const compiled = this.compile(raw);
    // An alias of another component delegates to it (that one may still be being compiled).
    if (referenceOf(raw) === undefined) Object.assign(shell, compiled);
    else Object.setPrototypeOf(shell, compiled);
    return shell;
  }

  /** Compiles one raw schema. */
  compile(raw: RawSchema): SchemaNode {
    // `{$ref}` or `{allOf: [{$ref}], default, x-kubernetes-map-type...}`: the referenced type,
    // with what the referring field declares on top (e.g. a granular claimRef of an atomic ObjectReference).
    const target = referenceOf(raw);
    const own = this.compileOwn(raw);
    if (target === undefined) return own;
    const base = this.component(target);
    // (A default on a referenced struct, usually `{}`, matters to nothing here.)
    if (own.listType === undefined && own.mapType === undefined) return base;
    // A node that is `base` except for what the field declares; delegation (not a copy) because
    // `base` may still be being compiled when a recursive type refers back to it.
    return Object.assign(Object.create(base) as Mutable<SchemaNode>, definedOnly(own));
  }

  private compileOwn(raw: RawSchema): SchemaNode {
    const node: Mutable<SchemaNode> = {};
    if (typeof raw.type === 'string') node.type = raw.type;
    if ('default' in raw) node.default = raw.default;
    const listType = rawListType(raw);
    if (listType) node.listType = listType;
    const mapType = raw['x-kubernetes-map-type'];
    if (mapType === 'atomic' || mapType === 'granular') node.mapType = mapType;
    if (isRecord(raw.items)) node.items = this.compile(raw.items);
    if (isRecord(raw.properties)) node.properties = new Map(Object.entries(raw.properties).filter((e): e is [string, RawSchema] => isRecord(e[1])).map(([key, value]) => [key, this.compile(value)]));
    if (isRecord(raw.additionalProperties)) node.additionalProperties = this.compile(raw.additionalProperties);
    return node;
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The component a raw schema refers to (`$ref`, or an `allOf` of one `$ref`), by name. */
function referenceOf(raw: RawSchema): string | undefined {
  const ref = raw.$ref ?? (Array.isArray(raw.allOf) && raw.allOf.length === 1 && isRecord(raw.allOf[0]) ? raw.allOf[0].$ref : undefined);
  return typeof ref === 'string' ? ref.replace(/^#\/components\/schemas\//, '') : undefined;
}

function definedOnly(node: SchemaNode): Partial<SchemaNode> {
  return Object.fromEntries(Object.entries(node).filter(([, value]) => value !== undefined));
}

/** A kind as `group/version/Kind` (core group empty). */
export function gvkKey(group: string, version: string, kind: string): string {
  return `${group}/${version}/${kind}`;
}

/** {@link gvkKey} of a type given by apiVersion (`apps/v1`, `v1`) and kind. */
export function gvkOf(type: { apiVersion: string; kind: string }): string {
  const slash = type.apiVersion.lastIndexOf('/');
  return gvkKey(type.apiVersion.slice(0, Math.max(slash, 0)), type.apiVersion.slice(slash + 1), type.kind);
}

/**
 * The root schema of every kind an OpenAPI v3 group/version document describes, keyed by
 * {@link gvkKey} (from each component's `x-kubernetes-group-version-kind`). Only what those kinds
 * reach is compiled; the document itself can then be dropped.
 */
export function kindsOfOpenApi(document: unknown): Map<string, SchemaNode> {
  const components = isRecord(document) && isRecord(document.components) && isRecord(document.components.schemas) ? document.components.schemas : {};
  const compiler = new SchemaCompiler(components);
  const kinds = new Map<string, SchemaNode>();
  for (const [name, raw] of Object.entries(components)) {
    if (!isRecord(raw) || !Array.isArray(raw['x-kubernetes-group-version-kind'])) continue;
    for (const gvk of raw['x-kubernetes-group-version-kind'] as unknown[]) {
      if (!isRecord(gvk) || typeof gvk.kind !== 'string') continue;
      kinds.set(gvkKey(String(gvk.group ?? ''), String(gvk.version ?? ''), gvk.kind), compiler.component(name));
    }
  }
  return kinds;
}

/**
 * The root schema of each version of the kind a CustomResourceDefinition defines, keyed by
 * {@link gvkKey}: its `openAPIV3Schema` as it is applied, so a CRD we just wrote is known at once
 * (the API server's aggregated OpenAPI catches up later).
 */
export function kindsOfCrd(crd: unknown): Map<string, SchemaNode> {
  const kinds = new Map<string, SchemaNode>();
  const spec = isRecord(crd) && isRecord(crd.spec) ? crd.spec : undefined;
  const group = typeof spec?.group === 'string' ? spec.group : undefined;
  const kind = isRecord(spec?.names) && typeof spec.names.kind === 'string' ? spec.names.kind : undefined;
  if (!spec || group === undefined || kind === undefined || !Array.isArray(spec.versions)) return kinds;
  const compiler = new SchemaCompiler();
  for (const version of spec.versions as unknown[]) {
    if (!isRecord(version) || typeof version.name !== 'string') continue;
    const raw = isRecord(version.schema) && isRecord(version.schema.openAPIV3Schema) ? version.schema.openAPIV3Schema : undefined;
    if (raw) kinds.set(gvkKey(group, version.name, kind), compiler.compile(raw));
  }
  return kinds;
}
