/**
 * Upgrade paths (#16 point 1): whether a mesh may move from the version it runs to the one the
 * spec asks for, with the strategy the spec names — decided by the mesh's own skew rules
 * ({@link MeshDistribution.upgradePath}), purely: the running versions and the spec are parameters,
 * nothing is read. A refusal carries the reason `UnsupportedUpgrade` and a message naming the
 * versions that are allowed and how to reach the one asked for, as `planAuthority` does for the CA.
 *
 * Only direct moves are planned: a path is one hop. A target two hops away is refused with the
 * intermediate version named, because each hop must be rolled out and proven healthy on its own.
 */
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import type { MeshInstallationStatus } from '../api/status.ts';
import type { MeshDistribution } from './distribution.ts';

/** The reason of every refused path (a Stalled condition's reason, and the Event's). */
export const UpgradePathReason = {
  /** spec.version cannot be reached from the running version with spec.upgrade; the message names what can. */
  UnsupportedUpgrade: 'UnsupportedUpgrade',
} as const;

/** What a path is judged from. */
export interface UpgradePathRequest {
  /** The version the control plane runs (status.version). */
  from: string;
  /** The version spec.version asks for (in the catalog: resolved already). */
  to: string;
  /** spec.upgrade.strategy. */
  strategy: 'InPlace' | 'Canary';
  /** spec.upgrade.allowDowngrade. */
  allowDowngrade: boolean;
  /**
   * Versions the data plane's proxies run (the keys of status.dataPlane.proxyVersions; `unknown`
   * and versions the mesh cannot parse are ignored): the control plane may never be older than any.
   */
  proxyVersions?: readonly string[];
}

/** One hop of a path. */
export interface UpgradeHop {
  from: string;
  to: string;
  /** `upgrade` forward, `downgrade` backward (allowed only with spec.upgrade.allowDowngrade). */
  direction: 'upgrade' | 'downgrade';
}

/** The verdict on a request. */
export type UpgradePath =
  /** Nothing to move: the target is what runs. */
  | { kind: 'none' }
  /** The move is allowed; `steps` are its hops, in order (one, see the module comment). */
  | { kind: 'path'; strategy: 'InPlace' | 'Canary'; steps: UpgradeHop[] }
  /** The move is refused; the message names what is allowed. */
  | { kind: 'refused'; reason: typeof UpgradePathReason.UnsupportedUpgrade; message: string };

/** A refusal with {@link UpgradePathReason.UnsupportedUpgrade}. */
export function refused(message: string): UpgradePath {
  return { kind: 'refused', reason: UpgradePathReason.UnsupportedUpgrade, message };
}

/**
 * The running side of a request, from an installation's recorded status: the version the mesh runs
 * (status.version; before any version was seen running, that of the last spec served in full,
 * since its objects are what the cluster holds) and the proxies' versions. Undefined when nothing
 * was ever served: a first install has no path to judge.
 */
export function runningVersions(status: MeshInstallationStatus | undefined): { from: string; proxyVersions: string[] } | undefined {
  const served = (status?.served?.spec as { version?: unknown } | undefined)?.version;
  const from = status?.version ?? (typeof served === 'string' ? served : undefined);
  if (from === undefined) return undefined;
  return { from, proxyVersions: Object.keys(status?.dataPlane?.proxyVersions ?? {}) };
}

/**
 * The path from what `status` records as running to spec.version of `installation`, by the mesh's
 * rules; `none` for a first install, the same version, or a mesh without upgrade rules.
 */
export function planUpgradePath(distribution: MeshDistribution, installation: DefaultedMeshInstallation, status: MeshInstallationStatus | undefined): UpgradePath {
  const running = runningVersions(status);
  if (!running || !distribution.upgradePath) return { kind: 'none' };
  const { strategy, allowDowngrade } = installation.spec.upgrade;
  return distribution.upgradePath({ from: running.from, to: installation.spec.version, strategy, allowDowngrade, proxyVersions: running.proxyVersions });
}

/** What a refusal offers instead: `from A <how> you can go to X or Y`, or that nothing else is allowed. */
export function allowedSentence(from: string, how: string, allowed: string): string {
  return allowed ? `from ${from}${how} you can go to ${allowed}` : `from ${from}${how} no other version of this operator's catalog is allowed: keep spec.version at ${from}`;
}

/** `a, b or c` (`a` alone, `a or b`). */
export function orList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}
