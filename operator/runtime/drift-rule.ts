/**
 * The drift rule for additions: what another writer adds to the parts of an owned object that are
 * ours as a whole is removed; what it adds anywhere else is its own and stays. The rule lives here,
 * in one table ({@link OWNED_WHOLE}), and is documented in the README ("What drift is repaired").
 *
 * Who added what is read from the object's `metadata.managedFields`, the API server's own record
 * of which field manager owns which field. That is how additions are told apart from what the API
 * server fills in itself (a container's `terminationMessagePath`, a Service's `clusterIP`): the
 * defaults belong to no manager, an addition belongs to the manager that wrote it.
 *
 * Why removal is not left to server-side apply: an apply removes a field only when the applying
 * manager owned it and no other manager does. A container, env var, volume or port another manager
 * adds to a keyed list is that manager's field; our forced apply never touches it, and applying it
 * ourselves first (to take it over) only makes us co-owners, so dropping it afterwards leaves it in
 * place (both tried on the API server: e2e/runtime/drift-additions.e2e.test.ts). What works is a
 * JSON patch that removes exactly those fields, each list element on the way pinned by a `test` of
 * its key (the API server refuses the whole patch if the list changed since it was read); removing
 * a field also removes it from its manager's managedFields entry, so afterwards nothing in our
 * parts belongs to anyone else and the next pass writes nothing.
 *
 * A writer that keeps re-adding would make every repair a write and every write a re-addition: the
 * repairs are counted per object and field manager ({@link judgeRepair}), and past a bound the
 * object is left alone for a while and the contest is reported instead (Event and condition
 * `DriftContested`, naming the field manager).
 */
import { fieldManager, userAgent, type KubeObject, type TypeRef } from './kube.ts';

/** The field managers that are this operator: server-side applies, and plain writes named after our user agent. */
export const OUR_MANAGERS: ReadonlySet<string> = new Set([fieldManager, userAgent.split('/')[0]!]);

/** One step of a path into an object, as managedFields spell it (`f:`, `k:`, `v:`, `i:`). */
export type PathElement =
  | { readonly field: string }
  | { readonly key: Readonly<Record<string, unknown>> }
  | { readonly value: unknown }
  | { readonly index: number };

/** A field owned by another manager and by none of ours: its topmost point (an element it added, not each of its fields). */
export interface ForeignField {
  readonly manager: string;
  readonly path: readonly PathElement[];
}

/** The parts of a kind that are ours as a whole (paths of field names, list elements left out) and the exceptions inside them. */
export interface OwnedWhole {
  readonly paths: ReadonlyArray<readonly string[]>;
  readonly except: ReadonlyArray<readonly string[]>;
}

/**
 * What the pod template of a workload holds that is ours as a whole: containers and init
 * containers (with everything in them: env, mounts, ports, args, security context), volumes, the
 * service account and its token, the pod security context, host namespaces and node placement.
 * Not its metadata: `kubectl rollout restart` writes an annotation there, and others add labels.
 */
export const POD_SPEC_OWNED_WHOLE: readonly string[] = [
  'containers', 'initContainers', 'ephemeralContainers', 'volumes',
  'serviceAccountName', 'serviceAccount', 'automountServiceAccountToken',
  'securityContext', 'hostNetwork', 'hostPID', 'hostIPC', 'hostUsers', 'shareProcessNamespace',
  'nodeSelector', 'nodeName', 'affinity', 'tolerations', 'topologySpreadConstraints', 'schedulerName', 'runtimeClassName',
];

const podSpecAt = (...prefix: string[]): OwnedWhole => ({ paths: POD_SPEC_OWNED_WHOLE.map((field) => [...prefix, field]), except: [] });

/**
 * The rule, by kind. Outside these paths, additions by others stay: an HPA's replicas (written
 * through the scale subresource, outside the pod template), `kubectl rollout restart`'s template
 * annotation, annotations and labels anywhere, status. Inside them, the exceptions stay too: a
 * webhook's `caBundle` that we do not declare is injected by whoever serves the webhook.
 * ClusterRole rules are compared whole as a value already (an atomic list), and not listed here:
 * an aggregated ClusterRole's rules are written by the aggregation controller, not by us.
 */
export const OWNED_WHOLE: Readonly<Record<string, OwnedWhole>> = {
  Deployment: podSpecAt('spec', 'template', 'spec'),
  StatefulSet: podSpecAt('spec', 'template', 'spec'),
  DaemonSet: podSpecAt('spec', 'template', 'spec'),
  ReplicaSet: podSpecAt('spec', 'template', 'spec'),
  Job: podSpecAt('spec', 'template', 'spec'),
  CronJob: podSpecAt('spec', 'jobTemplate', 'spec', 'template', 'spec'),
  ValidatingWebhookConfiguration: { paths: [['webhooks']], except: [['webhooks', 'clientConfig', 'caBundle']] },
  MutatingWebhookConfiguration: { paths: [['webhooks']], except: [['webhooks', 'clientConfig', 'caBundle']] },
  Service: { paths: [['spec', 'ports'], ['spec', 'selector'], ['spec', 'externalIPs']], except: [] },
  ConfigMap: { paths: [['data'], ['binaryData']], except: [] },
  Secret: { paths: [['data'], ['stringData']], except: [] },
  ClusterRoleBinding: { paths: [['subjects']], except: [] },
  RoleBinding: { paths: [['subjects']], except: [] },
  Role: { paths: [['rules']], except: [] },
  ClusterRole: { paths: [], except: [] },
};

/** Whether the rule covers `type` (and so whether its cached objects must keep their managedFields). */
export function coveredByRule(type: TypeRef): boolean {
  return OWNED_WHOLE[type.kind] !== undefined;
}

/**
 * An informer transform for owned kinds: objects of kinds the rule covers keep the parts of
 * `metadata.managedFields` the rule reads (manager, subresource, fieldsV1); others drop them, as
 * every cache does by default (they often double an object's size).
 */
export function managedFieldsTransform(type: TypeRef): (object: KubeObject) => KubeObject {
  const keep = coveredByRule(type);
  return (object) => {
    const entries = object.metadata.managedFields as ManagedFieldsEntry[] | undefined;
    if (!keep || !entries) delete object.metadata.managedFields;
    else object.metadata.managedFields = entries.map(({ manager, subresource, fieldsV1 }) => ({ manager, ...(subresource ? { subresource } : {}), fieldsV1 }));
    return object;
  };
}

interface ManagedFieldsEntry {
  manager?: string;
  subresource?: string;
  fieldsV1?: FieldsNode;
}

type FieldsNode = { [key: string]: FieldsNode };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function parseElement(key: string): PathElement | undefined {
  const payload = key.slice(2);
  try {
    switch (key.slice(0, 2)) {
      case 'f:': return { field: payload };
      case 'k:': return { key: JSON.parse(payload) as Record<string, unknown> };
      case 'v:': return { value: JSON.parse(payload) as unknown };
      case 'i:': return { index: Number(payload) };
    }
  } catch {
    // A key we cannot read names nothing we can remove.
  }
  return undefined;
}

/** Our managers' fieldsV1 trees merged into one: a path is ours when this tree has it. */
function mergeTrees(trees: readonly FieldsNode[]): FieldsNode {
  const merged: FieldsNode = {};
  for (const tree of trees) {
    for (const [key, child] of Object.entries(tree)) merged[key] = mergeTrees([merged[key] ?? {}, isRecord(child) ? child : {}]);
  }
  return merged;
}

/**
 * The fields of `live` that belong to other managers and to none of ours, each at its topmost
 * point: a container another manager added is one field (the element), not its name and image;
 * an env var it added to our container is one field under our container. A field another manager
 * shares with us (it applied the same value) is ours. Status is nobody's addition. With
 * `declared`, what it says we declare is not reported either, only what lies beyond it.
 */
export function foreignFields(live: KubeObject, ours: ReadonlySet<string> = OUR_MANAGERS, declared?: (path: readonly PathElement[]) => boolean): ForeignField[] {
  const entries = (live.metadata.managedFields ?? []) as ManagedFieldsEntry[];
  const ourTree = mergeTrees(entries.filter((e) => ours.has(e.manager ?? '') && isRecord(e.fieldsV1)).map((e) => e.fieldsV1!));
  const found = new Map<string, ForeignField>();
  const walk = (manager: string, node: FieldsNode, mine: FieldsNode | undefined, path: PathElement[]) => {
    for (const [key, child] of Object.entries(node)) {
      if (key === '.') continue;
      const element = parseElement(key);
      if (!element) continue;
      const here = [...path, element];
      const alsoOurs = mine?.[key];
      if (declared?.(here)) {
        // Declared by us: not an addition itself, but what it holds beyond what we declare may be.
        if (isRecord(child)) walk(manager, child, alsoOurs, here);
      } else if (alsoOurs === undefined) {
        const id = `${manager}\0${formatPath(here)}`;
        if (!found.has(id)) found.set(id, { manager, path: here });
      } else if (isRecord(child)) {
        walk(manager, child, alsoOurs, here);
      }
    }
  };
  for (const entry of entries) {
    if (ours.has(entry.manager ?? '') || entry.subresource === 'status' || !isRecord(entry.fieldsV1)) continue;
    const tree = entry.fieldsV1;
    // Status written without the subresource (older writers) is still status.
    const { 'f:status': _status, ...rest } = tree;
    walk(entry.manager ?? '(unnamed)', rest, ourTree, []);
  }
  return [...found.values()];
}

/** The field names of a path (list elements left out), as {@link OwnedWhole} paths are written. */
function fieldNames(path: readonly PathElement[]): string[] {
  return path.flatMap((element) => ('field' in element ? [element.field] : []));
}

const startsWith = (names: readonly string[], prefix: readonly string[]) => prefix.length <= names.length && prefix.every((name, i) => names[i] === name);

/** Whether a field at `path` of an object of `kind` lies in a part that is ours as a whole. */
export function inOwnedWhole(kind: string, path: readonly PathElement[]): boolean {
  const rule = OWNED_WHOLE[kind];
  if (!rule) return false;
  const names = fieldNames(path);
  return rule.paths.some((prefix) => startsWith(names, prefix)) && !rule.except.some((exception) => startsWith(names, exception));
}

/**
 * The additions the rule removes: fields of others in the parts of `live` that are ours as a
 * whole, except what `desired` declares itself. Why the exception: a field we declare is never
 * removed, whoever wrote it last — a changed value is the apply's to restore, and a field written
 * by a writer of ours that does not go by our field manager (the CA state Secret is created, not
 * applied, under the client's user agent) is still ours.
 */
export function additions(live: KubeObject, desired?: KubeObject, ours: ReadonlySet<string> = OUR_MANAGERS): ForeignField[] {
  return foreignFields(live, ours, desired && ((path) => declares(desired, path))).filter((field) => inOwnedWhole(live.kind, field.path));
}

/**
 * Where the value at `path` sits in `object`, as a JSON pointer (list elements by their index
 * there), or undefined when it is not there. A key field an element leaves out matches (a port
 * whose protocol is defaulted).
 */
export function pointerOf(object: unknown, path: readonly PathElement[]): string | undefined {
  return locate(object, path)?.pointer;
}

/** Whether `desired` declares the field at `path` (so a change of it by another manager is a change to ours). */
export function declares(desired: KubeObject, path: readonly PathElement[]): boolean {
  return pointerOf(desired, path) !== undefined;
}

/** A JSON patch operation the removal sends. */
export type PatchOperation = { op: 'test'; path: string; value: unknown } | { op: 'remove'; path: string };

/**
 * The JSON patch that removes `fields` from `live`, or undefined when none of them is there.
 * Every list element on the way is pinned by a `test` of its key (or value) at the index it had
 * in `live`: if the list changed since, the API server refuses the whole patch (422) rather than
 * remove the wrong element. (A guard on `metadata.resourceVersion` would do too, but a workload's
 * status changes it all the time, so most removals would be refused for nothing.) Within a list,
 * later elements go first so earlier indexes stay valid; a field inside another removed one is
 * not named twice.
 */
export function removalPatch(live: KubeObject, fields: readonly ForeignField[]): PatchOperation[] | undefined {
  const located = fields.map((field) => locate(live, field.path)).filter((l): l is Located => l !== undefined);
  const pointers = [...new Set(located.map((l) => l.pointer))];
  const outermost = pointers.filter((p) => !pointers.some((other) => other !== p && p.startsWith(`${other}/`)));
  if (outermost.length === 0) return undefined;
  const tests = new Map<string, unknown>();
  for (const l of located) if (outermost.includes(l.pointer)) for (const [path, value] of l.pins) tests.set(path, value);
  const order = (p: string) => p.split('/').map((t) => (/^\d+$/.test(t) ? t.padStart(10, '0') : t));
  outermost.sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? 1 : -1;
    return y.length - x.length;
  });
  return [...[...tests].map(([path, value]) => ({ op: 'test' as const, path, value })), ...outermost.map((path) => ({ op: 'remove' as const, path }))];
}

interface Located {
  pointer: string;
  /** Values that pin each list element on the way: JSON pointer → the value it must still hold. */
  pins: Array<[string, unknown]>;
}

const escape = (token: string) => token.replaceAll('~', '~0').replaceAll('/', '~1');

/** {@link pointerOf}, with the tests that pin the list elements on the way. */
function locate(object: unknown, path: readonly PathElement[]): Located | undefined {
  let node: unknown = object;
  let pointer = '';
  const pins: Array<[string, unknown]> = [];
  for (const element of path) {
    if ('field' in element) {
      if (!isRecord(node) || !(element.field in node)) return undefined;
      node = node[element.field];
      pointer += `/${escape(element.field)}`;
      continue;
    }
    if (!Array.isArray(node)) return undefined;
    const list: unknown[] = node;
    const index = 'index' in element ? element.index
      : 'key' in element ? list.findIndex((item) => isRecord(item) && Object.entries(element.key).every(([k, v]) => item[k] === undefined || JSON.stringify(item[k]) === JSON.stringify(v)))
        : list.findIndex((item) => JSON.stringify(item) === JSON.stringify(element.value));
    if (index < 0 || index >= list.length) return undefined;
    node = list[index];
    pointer += `/${index}`;
    if ('key' in element) for (const k of Object.keys(element.key)) if (isRecord(node) && node[k] !== undefined) pins.push([`${pointer}/${escape(k)}`, node[k]]);
    if ('value' in element) pins.push([pointer, node]);
  }
  return pointer === '' ? undefined : { pointer, pins };
}

/** A path as people read it: `spec.template.spec.containers[name=sidecar].env[name=X]`. */
export function formatPath(path: readonly PathElement[]): string {
  let text = '';
  for (const element of path) {
    if ('field' in element) text += `${text ? '.' : ''}${element.field}`;
    else if ('key' in element) text += `[${Object.entries(element.key).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(',')}]`;
    else if ('value' in element) text += `[${JSON.stringify(element.value)}]`;
    else text += `[${element.index}]`;
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// No fights: how many repairs an object gets before its drift is reported instead of repaired.

/** Bounds on repairs against one writer. */
export interface ContestPolicy {
  /** Repairs of one field of an object against one field manager allowed within {@link windowMs}; the next one is not made. */
  readonly maxRepairs: number;
  /** Repairs of an object against one field manager, whatever the fields (a writer that adds under ever new names). */
  readonly maxRepairsPerManager: number;
  readonly windowMs: number;
  /** How long a contested object is left alone, doubling with each contest in a row, up to {@link maxHoldMs}. */
  readonly holdMs: number;
  readonly maxHoldMs: number;
}

/** Three repairs a minute of the same field against the same writer (ten of any fields); then five minutes' rest, doubling to an hour. */
export const DEFAULT_CONTEST_POLICY: ContestPolicy = { maxRepairs: 3, maxRepairsPerManager: 10, windowMs: 60_000, holdMs: 300_000, maxHoldMs: 3_600_000 };

/** Who made the drift a repair is about to undo: a field manager and the fields it wrote. */
export interface Culprit {
  readonly manager: string;
  readonly fields: readonly string[];
}

/** What the referee remembers of one object: its recent repairs and its last contest. */
export interface ContestState {
  /** Repairs made within the window, oldest first: when, and against which managers and fields (`manager\0field`). */
  readonly repairs: ReadonlyArray<{ readonly at: number; readonly managers: readonly string[]; readonly fields: readonly string[] }>;
  /** The last contest: the object is left alone until `until`; `strikes` contests in a row. */
  readonly hold?: { readonly until: number; readonly strikes: number; readonly culprit: Culprit; readonly repairs: number };
}

/** The decision about one repair. */
export type RepairVerdict =
  | { readonly action: 'repair' }
  /** Leave the object alone; `newly`: the contest starts now (report it), else it goes on. */
  | { readonly action: 'hold'; readonly newly: boolean; readonly until: number; readonly culprit: Culprit; readonly repairs: number };

const fieldKey = (manager: string, field: string) => `${manager}\0${field}`;

/**
 * Whether to repair an object whose drift was made by `culprits` (other field managers), at
 * `now`, given what the referee remembers of it (`state`). Pure: the clock is a parameter.
 *
 * - While a contest's hold lasts: hold (nothing is written).
 * - A field the same manager wrote again after `maxRepairs` repairs within the window, or a
 *   manager whose drift was repaired `maxRepairsPerManager` times within it (whatever the
 *   fields): a contest starts (hold for `holdMs`, doubled for each contest in a row, at most
 *   `maxHoldMs`).
 * - Right after a hold (within a window of its end), one repair is a probe: a manager that undoes
 *   it again is contested again at once, so a writer that never stops costs one write per hold.
 * - Otherwise repair, and remember it.
 * Writes against one writer are so bounded per window, then one per hold.
 */
export function judgeRepair(state: ContestState | undefined, culprits: readonly Culprit[], now: number, policy: ContestPolicy = DEFAULT_CONTEST_POLICY): { verdict: RepairVerdict; state: ContestState } {
  const repairs = (state?.repairs ?? []).filter((repair) => repair.at > now - policy.windowMs);
  const hold = state?.hold;
  if (hold && now < hold.until) return { verdict: { action: 'hold', newly: false, until: hold.until, culprit: hold.culprit, repairs: hold.repairs }, state: { repairs, hold } };
  // A hold that ended more than a window ago is forgiven: the writer stopped.
  const recent = hold && now - hold.until <= policy.windowMs ? hold : undefined;
  const contest = (culprit: Culprit, count: number) => {
    const strikes = (recent?.strikes ?? 0) + 1;
    const until = now + Math.min(policy.holdMs * 2 ** (strikes - 1), policy.maxHoldMs);
    return { verdict: { action: 'hold' as const, newly: true, until, culprit, repairs: count }, state: { repairs, hold: { until, strikes, culprit, repairs: count } } };
  };
  for (const culprit of culprits) {
    const again = culprit.fields.filter((field) => repairs.filter((repair) => repair.fields.includes(fieldKey(culprit.manager, field))).length >= (recent ? 1 : policy.maxRepairs));
    if (again.length > 0) return contest({ manager: culprit.manager, fields: again }, repairs.filter((repair) => repair.fields.includes(fieldKey(culprit.manager, again[0]!))).length);
    const byManager = repairs.filter((repair) => repair.managers.includes(culprit.manager)).length;
    if (byManager >= policy.maxRepairsPerManager) return contest(culprit, byManager);
  }
  const managers = [...new Set(culprits.map((culprit) => culprit.manager))];
  const fields = culprits.flatMap((culprit) => culprit.fields.map((field) => fieldKey(culprit.manager, field)));
  return { verdict: { action: 'repair' }, state: { repairs: managers.length > 0 ? [...repairs, { at: now, managers, fields }] : repairs, ...(recent ? { hold: recent } : {}) } };
}

/**
 * The drift of `live` against `desired` by manager: fields others added to our parts, and fields
 * we declare that another manager wrote last (a changed value). What they write elsewhere is theirs.
 */
export function culprits(desired: KubeObject, live: KubeObject, ours: ReadonlySet<string> = OUR_MANAGERS): Culprit[] {
  const byManager = new Map<string, string[]>();
  for (const field of foreignFields(live, ours)) {
    if (!inOwnedWhole(live.kind, field.path) && !declares(desired, field.path)) continue;
    byManager.set(field.manager, [...(byManager.get(field.manager) ?? []), formatPath(field.path)]);
  }
  return [...byManager].map(([manager, fields]) => ({ manager, fields }));
}

/** In-memory contest state of every object, by object key (lost on restart: a restarted operator allows `maxRepairs` again). */
export class DriftReferee {
  private readonly states = new Map<string, ContestState>();

  constructor(readonly policy: ContestPolicy = DEFAULT_CONTEST_POLICY) {}

  /**
   * {@link judgeRepair} for the object `key`. A hold is remembered at once; a repair only when
   * `commit` is called, once it was written (a write the API server refused repaired nothing).
   */
  judge(key: string, culprits: readonly Culprit[], now: number): { verdict: RepairVerdict; commit: () => void } {
    const { verdict, state } = judgeRepair(this.states.get(key), culprits, now, this.policy);
    const commit = () => {
      if (state.repairs.length === 0 && !state.hold) this.states.delete(key);
      else this.states.set(key, state);
    };
    if (verdict.action === 'hold') commit();
    return { verdict, commit };
  }

  /** The hold on object `key` at `now`, if one lasts. */
  holdOf(key: string, now: number): ContestState['hold'] {
    const hold = this.states.get(key)?.hold;
    return hold && now < hold.until ? hold : undefined;
  }
}
