/**
 * Istio's upgrade skew rules (istio.io "Upgrade" docs), as a pure verdict on one move:
 *
 * - in place, at most one minor (1.29 → 1.30; 1.29 → 1.31 is two hops);
 * - canary (a second revision side by side), at most two minors;
 * - patches within a minor move freely;
 * - the control plane is never older than its data plane: a target older than any running proxy
 *   is a downgrade of the data plane, and the skew is counted from the oldest proxy still running
 *   (pods not yet restarted after the last upgrade), since every proxy ends up on the target;
 * - a downgrade (older than the control plane or any proxy) is refused unless
 *   spec.upgrade.allowDowngrade, and then the same skew limits apply backwards.
 */
import semver from 'semver';
import { allowedSentence, orList, refused, type UpgradePath, type UpgradePathRequest } from '../upgrade-path.ts';
import { ISTIO_CATALOG, ISTIO_RELEASES, type IstioMinorRelease } from './catalog.ts';

/** Minors a strategy may cross in one move. */
const MAX_MINOR_SKEW = { InPlace: 1, Canary: 2 } as const;

type Strategy = UpgradePathRequest['strategy'];

/** Why one move is not allowed, before it is worded (see {@link explain}). */
type Problem =
  | { kind: 'unreadable'; version: string }
  | { kind: 'downgrade'; newest: string; dataPlane: boolean }
  | { kind: 'major'; base: string }
  | { kind: 'skew'; base: string; dataPlane: boolean; distance: number };

const minorOf = (version: string) => `${semver.major(version)}.${semver.minor(version)}`;

/** The proxies' versions that read as Istio versions ('unknown' and the like are left out). */
function readableProxies(proxyVersions: readonly string[] | undefined): string[] {
  return (proxyVersions ?? []).filter((version) => semver.valid(version) !== null);
}

/** The problem with moving to `to`, or undefined when the move is allowed. */
function judge(request: UpgradePathRequest, to: string): Problem | undefined {
  const { from, strategy, allowDowngrade } = request;
  if (!semver.valid(from)) return { kind: 'unreadable', version: from };
  const proxies = readableProxies(request.proxyVersions);
  const newestProxy = proxies.length > 0 ? semver.maxSatisfying(proxies, '*') : null;
  const oldestProxy = proxies.length > 0 ? semver.minSatisfying(proxies, '*') : null;
  const newest = newestProxy && semver.gt(newestProxy, from) ? newestProxy : from;
  const oldest = oldestProxy && semver.lt(oldestProxy, from) ? oldestProxy : from;
  const downgrade = semver.lt(to, newest);
  if (downgrade && !allowDowngrade) return { kind: 'downgrade', newest, dataPlane: newest !== from };
  // Forward, the farthest any part of the mesh moves is from its oldest part; backward, from its newest.
  const base = downgrade ? newest : oldest;
  if (semver.major(base) !== semver.major(to)) return { kind: 'major', base };
  const distance = Math.abs(semver.minor(to) - semver.minor(base));
  if (distance > MAX_MINOR_SKEW[strategy]) return { kind: 'skew', base, dataPlane: base !== from, distance };
  return undefined;
}

/** Versions of `catalog` that `request` could move to instead, worded by minor: `1.30.x (1.30.4, 1.30.3)`. */
function allowedVersions(request: UpgradePathRequest, catalog: readonly string[]): string {
  const allowed = catalog.filter((version) => version !== request.from && judge(request, version) === undefined);
  if (allowed.length === 0) return '';
  const byMinor = new Map<string, string[]>();
  for (const version of allowed) byMinor.set(minorOf(version), [...(byMinor.get(minorOf(version)) ?? []), version]);
  const groups = [...byMinor].map(([minor, versions]) => (minor === minorOf(request.from) ? `the ${minor} patches (${versions.join(', ')})` : `${minor}.x (${versions.join(', ')})`));
  return orList(groups);
}

const strategyWords = (strategy: Strategy) => (strategy === 'InPlace' ? 'in place' : 'with strategy: Canary');

/** The newest catalog version of `minor`, for "upgrade to 1.30 first (1.30.4)". */
function newestOf(minor: string, catalog: readonly string[]): string | undefined {
  return catalog.find((version) => minorOf(version) === minor);
}

/** The refusal's message: what is wrong, what is allowed, and how to get to `to`. */
function explain(problem: Problem, request: UpgradePathRequest, catalog: readonly string[]): string {
  const { from, to, strategy } = request;
  const allowed = () => allowedSentence(from, ` ${strategyWords(strategy)}`, allowedVersions(request, catalog));
  switch (problem.kind) {
    case 'unreadable':
      return `the running Istio version "${from}" is not a 1.MINOR.PATCH version, so no upgrade path from it can be judged; set spec.version back to ${from} (with an operator whose catalog lists it)`;
    case 'downgrade': {
      const what = problem.dataPlane
        ? `${to} is older than the ${problem.newest} proxies pods run, and the control plane may never be older than its data plane`
        : `moving from ${from} to ${to} is a downgrade`;
      return `${what}: downgrades are refused because they can lose configuration the newer version wrote; ${allowed()}; set spec.upgrade.allowDowngrade: true to downgrade anyway`;
    }
    case 'major':
      return `${to} is another major version than ${problem.base}, which cannot be upgraded across; ${allowed()}`;
    case 'skew': {
      const limit = MAX_MINOR_SKEW[strategy];
      const where = problem.dataPlane ? `pods still run ${problem.base} proxies and ` : '';
      const head = `${where}${strategyWords(strategy)} Istio moves at most ${limit === 1 ? 'one minor' : `${limit} minors`} at a time, but ${minorOf(problem.base)} → ${minorOf(to)} is ${problem.distance}`;
      const step = semver.gt(to, problem.base) ? semver.minor(problem.base) + limit : semver.minor(problem.base) - limit;
      const hop = `${semver.major(to)}.${step}`;
      const hopVersion = newestOf(hop, catalog);
      const first = problem.dataPlane
        ? `let the data plane finish restarting onto ${from} first (status.dataPlane.outdatedPods)`
        : `${semver.gt(to, problem.base) ? 'upgrade' : 'downgrade'} to ${hop}${hopVersion ? ` (${hopVersion})` : ''} first`;
      const canary = strategy === 'InPlace' && problem.distance <= MAX_MINOR_SKEW.Canary ? ' or use strategy: Canary' : '';
      return `${head}; ${allowed()}; for ${minorOf(to)} ${first}${canary}`;
    }
  }
}

/**
 * The verdict on moving an Istio installation as `request` asks (see the module comment);
 * `catalog` is the versions that could be named instead (newest first).
 */
export function istioUpgradePath(request: UpgradePathRequest, catalog: readonly string[] = ISTIO_CATALOG): UpgradePath {
  const { from, to, strategy } = request;
  if (from === to) return { kind: 'none' };
  const problem = judge(request, to);
  if (problem) return refused(explain(problem, request, catalog));
  const newest = semver.valid(from) ? [from, ...readableProxies(request.proxyVersions)].sort(semver.rcompare)[0]! : from;
  return { kind: 'path', strategy, steps: [{ from, to, direction: semver.lt(to, newest) ? 'downgrade' : 'upgrade' }] };
}

/**
 * The feature-flag defaults that change between `from` and `to` (catalog.ts behaviourChanges), one
 * note per minor crossed in the order crossed (a downgrade crosses them newest first).
 */
export function istioUpgradeNotes(from: string, to: string, releases: readonly IstioMinorRelease[] = ISTIO_RELEASES): string[] {
  if (!semver.valid(from) || !semver.valid(to) || semver.major(from) !== semver.major(to)) return [];
  const [low, high] = [Math.min(semver.minor(from), semver.minor(to)), Math.max(semver.minor(from), semver.minor(to))];
  const crossed = releases.filter((r) => {
    const minor = Number(r.minor.split('.')[1]);
    return minor > low && minor <= high && Object.keys(r.behaviourChanges).length > 0;
  }).sort((a, b) => Number(a.minor.split('.')[1]) - Number(b.minor.split('.')[1]));
  const upgrade = semver.gt(to, from);
  if (!upgrade) crossed.reverse();
  return crossed.map((r) => {
    const previous = `${semver.major(to)}.${Number(r.minor.split('.')[1]) - 1}`;
    const earlier = Object.entries(r.behaviourChanges).map(([flag, value]) => `${flag}=${value}`).join(', ');
    return upgrade ? `${r.minor} changes istiod defaults; the ${previous} behaviour is ${earlier}` : `leaving ${r.minor} brings back the ${previous} istiod defaults: ${earlier}`;
  });
}
