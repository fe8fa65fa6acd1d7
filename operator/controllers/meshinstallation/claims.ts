/**
 * Whose is an object: the one rule by which installations never destroy each other and the
 * operator never takes what it did not create. Pure; the pass applies the verdicts.
 *
 * - An object this installation created is its own: it carries its label (what pruning and deletion
 *   need besides: it is in its inventory, see inventory.ts).
 * - An object another installation would also render is that installation's: the newcomer stalls
 *   with `ConflictingInstallation`, naming the owner, and writes nothing at all. Except objects the
 *   mesh says several installations may share (its CRDs, Istio's default-revision validator):
 *   those record every owner (an annotation per owner) and are written by one of them — the one
 *   whose label they carry — and go only with the last owner.
 * - An object kept on an installation's deletion (keep-on-delete: CRDs, a namespace) is released
 *   (its label says so) and the next installation adopts it.
 * - An object that exists without any installation's label was created by someone else: a
 *   Namespace is used as it is (never written, never deleted); anything else stalls the
 *   installation with `ObjectNotOwned`, naming it — a person decides (delete it, or hand it over
 *   by labelling it with the installation's name).
 */
import type { KubeObject } from '../../runtime/kube.ts';
import { INSTALLATION_LABEL, isReleasedLabel, ownersOf } from '../ownership.ts';
import { refKey, refOf, type ObjectRef } from './live-objects.ts';

/** What to do about one desired object. */
export type Verdict =
  /** Absent, or ours: apply it. */
  | { action: 'apply' }
  /** A shared object another installation writes: only record ourselves as an owner. */
  | { action: 'co-own'; writer: string }
  /** A Namespace someone else created: use it as it is. */
  | { action: 'use-as-is' }
  /** Another installation's object: stall, write nothing. */
  | { action: 'conflict'; owner: string }
  /** Someone else's object (no installation label): stall, write nothing. */
  | { action: 'not-owned' };

/** Who we are and how to look things up, for {@link judge}. */
export interface OwnershipContext {
  installation: string;
  /** Our inventory as the last pass recorded it. */
  inventory: ReadonlySet<string>;
  /** Whether several installations may share this object (see `MeshDistribution.isShared`). */
  isShared(object: KubeObject): boolean;
}

/** The verdict on `desired` given its live version. */
export function judge(desired: KubeObject, live: KubeObject | undefined, context: OwnershipContext): Verdict {
  if (!live) return { action: 'apply' };
  const owner = live.metadata.labels?.[INSTALLATION_LABEL];
  // Ours, or kept by an installation that is gone and free to adopt.
  if (owner === context.installation || isReleasedLabel(owner)) return { action: 'apply' };
  if (owner === undefined) {
    // Ours by inventory but stripped of its label: drift, put back. Otherwise someone else's.
    if (context.inventory.has(refKey(refOf(desired)))) return { action: 'apply' };
    return desired.kind === 'Namespace' ? { action: 'use-as-is' } : { action: 'not-owned' };
  }
  if (context.isShared(desired)) {
    // The writer left (its owner record is gone): the next owner takes over, which is us if we are first.
    const owners = ownersOf(live);
    if (owners.includes(owner)) return { action: 'co-own', writer: owner };
    return { action: 'apply' };
  }
  return { action: 'conflict', owner };
}

/** The verdicts on a desired set, grouped; `blocking` is what stops the pass before any write. */
export interface Verdicts {
  /** Objects to apply (created or ours). */
  apply: KubeObject[];
  /** Shared objects another installation writes: we record ourselves as owner. */
  coOwn: Array<{ object: KubeObject; writer: string }>;
  /** Namespaces used as they are. */
  useAsIs: ObjectRef[];
  /** Objects another installation owns, with the owner. */
  conflicts: Array<{ ref: ObjectRef; owner: string }>;
  /** Objects nobody of ours created. */
  notOwned: ObjectRef[];
}

/** Judges every desired object. */
export function judgeAll(desired: readonly KubeObject[], live: (object: KubeObject) => KubeObject | undefined, context: OwnershipContext): Verdicts {
  const verdicts: Verdicts = { apply: [], coOwn: [], useAsIs: [], conflicts: [], notOwned: [] };
  for (const object of desired) {
    const verdict = judge(object, live(object), context);
    switch (verdict.action) {
      case 'apply': verdicts.apply.push(object); break;
      case 'co-own': verdicts.coOwn.push({ object, writer: verdict.writer }); break;
      case 'use-as-is': verdicts.useAsIs.push(refOf(object)); break;
      case 'conflict': verdicts.conflicts.push({ ref: refOf(object), owner: verdict.owner }); break;
      case 'not-owned': verdicts.notOwned.push(refOf(object)); break;
    }
  }
  return verdicts;
}
