/**
 * Revisions side by side (#16 point 4): a version change that renames the control plane (Istio's
 * `strategy: Canary`, whose objects carry the revision, `istiod-1-31-1`) must not prune the running
 * revision while anything still uses it. Each pass renders the previous revisions beside the
 * current one — both owned, in the inventory, drift-repaired — for as long as a namespace points
 * at one (its enrolment label, set by anyone) or a pod it injected still runs (Completed and
 * Failed pods do not count; a terminating pod still runs its proxy). Once nothing does, it is no
 * longer rendered and the prune step removes it.
 *
 * The revisions kept are remembered in status.revisions, written with the same status write as
 * status.served: the pass that first serves the new version and that write go together, so a kill
 * before it leaves the previous version as served, which is found again.
 *
 * {@link planRevisions} is pure and table-tested; {@link keepRevisionsInUse} reads the caches and
 * renders.
 */
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import type { MeshInstallationStatus } from '../api/status.ts';
import type { PassContext } from '../controllers/meshinstallation/context.ts';
import { LastComputed } from '../controllers/meshinstallation/last-computed.ts';
import { refKey, refOf } from '../controllers/meshinstallation/live-objects.ts';
import type { PassScope, Target } from '../controllers/meshinstallation/scope.ts';
import { markOwned, renderOwned } from '../controllers/ownership.ts';
import { INJECTED_BY_LABEL, injectionRecordOf } from '../distributions/injection.ts';
import type { KubeObject } from '../runtime/kube.ts';
import { createHash } from 'node:crypto';
import { servingCanary, type CanaryPass } from './canary-executor.ts';

/** status.revisions[] as the API defines it. */
export type RevisionStatus = NonNullable<MeshInstallationStatus['revisions']>[number];

/** A revision by name and the version it runs. */
export interface Revision {
  name: string;
  version: string;
}

/** Who uses a revision: namespaces pointing at it and running pods it injected. */
export interface RevisionUse {
  namespaces: readonly string[];
  runningPods: number;
}

/** What {@link planRevisions} decides from. */
export interface RevisionsInput {
  /** The revision this pass serves. */
  current: Revision;
  /** status.revisions as last written. */
  recorded?: readonly RevisionStatus[];
  /** The revision of the spec last served in full, when it differs from the current one's name. */
  served?: Revision;
  /** Who uses each revision, by name. */
  use: (name: string) => RevisionUse;
}

/** The revisions to keep rendered beside the current one, and status.revisions (undefined: only the current one runs). */
export interface RevisionsDecision {
  keep: Revision[];
  status?: RevisionStatus[];
}

const used = (use: RevisionUse) => use.namespaces.length > 0 || use.runningPods > 0;

/**
 * Which previous revisions stay: each one recorded or last served, named differently from the
 * current one, that a namespace or a running pod still uses. One no longer used is dropped for
 * good (it is not found again: neither recorded nor served any more).
 */
export function planRevisions(input: RevisionsInput): RevisionsDecision {
  const candidates = new Map<string, Revision>();
  for (const r of [...(input.recorded ?? []), ...(input.served ? [input.served] : [])]) {
    if (r.name !== input.current.name && !candidates.has(r.name)) candidates.set(r.name, { name: r.name, version: r.version });
  }
  const keep = [...candidates.values()].filter((r) => used(input.use(r.name))).sort((a, b) => a.name.localeCompare(b.name));
  if (keep.length === 0) return { keep };
  return {
    keep,
    status: [
      { name: input.current.name, version: input.current.version, state: 'Active', inUse: used(input.use(input.current.name)) },
      ...keep.map((r): RevisionStatus => ({ name: r.name, version: r.version, state: 'Retiring', inUse: true })),
    ],
  };
}

/** The revision an installation's spec runs: the distribution's revision name under Canary, `default` otherwise (Istio's unrevisioned control plane). */
export function revisionOf(installation: DefaultedMeshInstallation, target: Target): Revision {
  return { name: installation.spec.upgrade.strategy === 'Canary' ? target.distribution.resolve(installation).revision : 'default', version: installation.spec.version };
}

/** The installation at another revision: its version, and the strategy that names objects as that revision does. */
function atRevision(installation: DefaultedMeshInstallation, revision: Revision): DefaultedMeshInstallation {
  const strategy = revision.name === 'default' ? 'InPlace' : 'Canary';
  return { ...installation, spec: { ...installation.spec, version: revision.version, upgrade: { ...installation.spec.upgrade, strategy, canary: strategy === 'Canary' ? installation.spec.upgrade.canary : undefined } } };
}

/**
 * `desired` with the previous revisions still in use rendered beside it (objects the current
 * render also has are the current render's), and status.revisions set for the status write. A
 * previous version the catalog no longer resolves cannot be rendered: it is not kept.
 */
export function keepRevisionsInUse(scope: PassScope, context: PassContext, target: Target, desired: KubeObject[]): KubeObject[] {
  const { distribution } = target;
  // A stepped Canary under way renders what its record says, not what use alone would keep.
  const canary = servingCanary(scope, context);
  if (canary && !['Succeeded', 'RolledBack'].includes(canary.decision.status.phase)) return renderCanaryRevisions(scope, context, target, desired, canary);
  let current: Revision;
  try {
    current = revisionOf(scope.mi, target);
  } catch {
    return desired;
  }
  const servedSpec = scope.installation.status?.served?.spec as DefaultedMeshInstallation['spec'] | undefined;
  let served: Revision | undefined;
  if (servedSpec?.version && servedSpec.upgrade) {
    try {
      served = revisionOf({ ...scope.mi, spec: servedSpec }, target);
    } catch {
      served = undefined;
    }
  }
  // Nothing renamed is recorded or was served (every pass of an installation that keeps its revision): nothing to look up.
  if (!served || served.name === current.name) {
    if (!(scope.status.revisions ?? []).some((r) => r.name !== current.name)) {
      delete scope.status.revisions;
      return desired;
    }
  }
  const currentLabel = distribution.injector?.enrolmentLabel(scope.mi, target.resolved);
  const pods = context.pods?.list() ?? [];
  const namespaces = context.namespaces?.list() ?? [];
  const use = (name: string): RevisionUse => {
    const runningPods = pods.filter((pod) => pod.metadata.labels?.[INJECTED_BY_LABEL] === scope.name && injectionRecordOf(pod)?.revision === name
      && !['Succeeded', 'Failed'].includes((pod.status as { phase?: string } | undefined)?.phase ?? '')).length;
    if (name === current.name) return { namespaces: [], runningPods };
    // A namespace uses a previous revision when its label selects that revision's injection and not the current one's.
    const revision = [...(scope.status.revisions ?? []), ...(served ? [served] : [])].find((r) => r.name === name);
    let label: { key: string; value: string } | undefined;
    try {
      label = revision && distribution.injector ? distribution.injector.enrolmentLabel(atRevision(scope.mi, revision), distribution.resolve(atRevision(scope.mi, revision))) : undefined;
    } catch {
      label = undefined;
    }
    const selects = (labels: Record<string, string> | undefined) => label !== undefined && labels?.[label.key] === label.value
      && !(currentLabel && labels?.[currentLabel.key] === currentLabel.value);
    return { namespaces: namespaces.filter((ns) => selects(ns.metadata.labels)).map((ns) => ns.metadata.name), runningPods };
  };
  const decision = planRevisions({ current, recorded: scope.status.revisions, served, use });
  if (decision.status) scope.status.revisions = decision.status;
  else delete scope.status.revisions;
  if (decision.keep.length === 0) return desired;
  const present = new Set(desired.map((o) => refKey(refOf(o))));
  const kept: KubeObject[] = [];
  for (const revision of decision.keep) {
    const installation = atRevision(scope.mi, revision);
    let objects: KubeObject[];
    try {
      objects = renderRevision(scope, context, target, installation);
    } catch (error) {
      scope.log.warn({ revision: revision.name, version: revision.version, err: error instanceof Error ? error.message : String(error) }, 'a previous revision in use cannot be rendered: it is not kept');
      continue;
    }
    for (const object of objects) {
      const key = refKey(refOf(object));
      if (present.has(key)) continue;
      present.add(key);
      kept.push(object);
    }
  }
  return [...desired, ...kept];
}

/**
 * The label of a revision tag's objects (Istio's `istio-revision-tag-default` webhook
 * configuration): every revision renders them, and the pass takes them from the revision the tag
 * points at.
 */
export const REVISION_TAG_LABEL = 'istio.io/tag';

const isTagObject = (object: KubeObject) => object.metadata.labels?.[REVISION_TAG_LABEL] !== undefined;

/** Renders of other revisions, by installation and revision, with the hash of their inputs (see sync.ts computeDesired: rendering dominates a pass). */
const lastRevisionRenders = new LastComputed<readonly KubeObject[]>();

/**
 * Everything a revision other than the pass's own owns: its render and, with the webhook endpoint,
 * its injection webhook configurations — so a retiring revision keeps routing the pods of the
 * namespaces still pointing at it to injection until it is removed with them.
 */
function renderRevision(scope: PassScope, context: PassContext, target: Target, installation: DefaultedMeshInstallation): KubeObject[] {
  const { distribution } = target;
  const resolved = distribution.resolve(installation);
  const endpoint = context.webhookEndpoint?.();
  const cacheKey = `${scope.name}/${resolved.revision}`;
  const key = createHash('sha256').update(JSON.stringify({ metadata: { ...installation.metadata, resourceVersion: undefined, managedFields: undefined, generation: undefined }, spec: installation.spec, resolved, ca: scope.authority?.material, endpoint })).digest('hex');
  const remembered = lastRevisionRenders.get(cacheKey, key);
  if (remembered) return [...remembered];
  const objects = renderOwned(distribution, { installation, resolved, ca: scope.authority?.material });
  if (distribution.injector && endpoint) objects.push(...distribution.injector.webhookConfigurations(installation, resolved, endpoint).map((object) => markOwned(object, scope.name)));
  lastRevisionRenders.set(cacheKey, key, objects);
  return [...objects];
}

/**
 * What a Canary upgrade under way renders ({@link CanaryPass}): the pass's own revision (`desired`)
 * and every other revision the record keeps (each with its webhook configurations), objects both
 * render being the pass's own; the revision tag's objects from the revision the tag points at.
 * Sets status.revisions (the tag's revision Active, the new one Canary before promotion, the other
 * Retiring) and scope.canaryRendered for the gates.
 */
export function renderCanaryRevisions(scope: PassScope, context: PassContext, target: Target, desired: KubeObject[], canary: CanaryPass): KubeObject[] {
  const { decision, revisions, versions } = canary;
  let current: Revision;
  try {
    current = revisionOf(scope.mi, target);
  } catch {
    return desired;
  }
  const rendered = new Map<string, KubeObject[]>([[current.name, desired]]);
  for (const name of decision.render) {
    if (name === current.name || versions[name] === undefined) continue;
    try {
      rendered.set(name, renderRevision(scope, context, target, atRevision(scope.mi, { name, version: versions[name]! })));
    } catch (error) {
      scope.log.warn({ revision: name, err: error instanceof Error ? error.message : String(error) }, 'a revision of the canary upgrade cannot be rendered');
    }
  }
  scope.canaryRendered = rendered;
  const tagFromCurrent = decision.defaultTag === current.name;
  const out = tagFromCurrent ? [...desired] : desired.filter((object) => !isTagObject(object));
  const present = new Set(out.map((o) => refKey(refOf(o))));
  for (const [name, objects] of rendered) {
    if (name === current.name) continue;
    for (const object of objects) {
      if (isTagObject(object) && name !== decision.defaultTag) continue;
      const key = refKey(refOf(object));
      if (present.has(key)) continue;
      present.add(key);
      out.push(object);
    }
  }
  const pods = context.pods?.list() ?? [];
  const running = (name: string) => pods.some((pod) => pod.metadata.labels?.[INJECTED_BY_LABEL] === scope.name && injectionRecordOf(pod)?.revision === name
    && !['Succeeded', 'Failed'].includes((pod.status as { phase?: string } | undefined)?.phase ?? ''));
  const rollingBack = decision.status.phase === 'RollingBack';
  const state = (name: string): RevisionStatus['state'] => name === decision.defaultTag ? 'Active' : name === revisions.new && !rollingBack ? 'Canary' : 'Retiring';
  const names = [...rendered.keys()].sort((a, b) => (a === decision.defaultTag ? -1 : b === decision.defaultTag ? 1 : a.localeCompare(b)));
  scope.status.revisions = names.map((name) => ({ name, version: versions[name] ?? current.version, state: state(name), inUse: running(name) || Object.values(decision.namespaceRevisions).includes(name) }));
  return out;
}
