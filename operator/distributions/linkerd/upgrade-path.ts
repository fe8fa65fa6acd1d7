/**
 * Linkerd's upgrade rules (linkerd.io "Upgrading Linkerd"), as a pure verdict on one move:
 *
 * - stable releases (`2.20`, `2.20.1`) move one major (2.N) at a time, and within a major to any
 *   later minor;
 * - edge releases only forward, to any later edge of the same or the next major;
 * - between channels, the code decides: each release is built from one edge (a stable release's
 *   image tag names the edge it was cut from), so stable → edge and edge → stable are allowed when
 *   the target's edge is not older than the running one's, and are downgrades otherwise;
 * - the control plane is never older than its data plane: a target older than any running proxy
 *   is a downgrade, and the major step is counted from the oldest proxy still running;
 * - a downgrade is refused unless spec.upgrade.allowDowngrade (one major at a time still).
 *
 * Only releases of the catalog can be judged (their major and their edge are facts of the catalog,
 * not of the name); a running version the catalog no longer knows is refused with that said.
 */
import { allowedSentence, orList, refused, type UpgradePath, type UpgradePathRequest } from '../upgrade-path.ts';
import { LINKERD_RELEASES, type LinkerdRelease } from './catalog.ts';

/** Where a release's code stands among the edges: `[YY, M, N]` of the edge its images are tagged with. */
function edgeOf(release: LinkerdRelease): [number, number, number] | undefined {
  const match = /^edge-(\d+)\.(\d+)\.(\d+)$/.exec(release.imageTag);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : undefined;
}

/** <0, 0, >0 as `a`'s code is older than, the same as, newer than `b`'s. */
function compareCode(a: LinkerdRelease, b: LinkerdRelease): number {
  const [x, y] = [edgeOf(a), edgeOf(b)];
  if (!x || !y) return a.major - b.major;
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

const describe = (release: LinkerdRelease) => (release.channel === 'stable' ? `stable ${release.version} (built from ${release.imageTag})` : release.version);

type Problem =
  | { kind: 'unknown'; version: string }
  | { kind: 'downgrade'; newest: LinkerdRelease; dataPlane: boolean }
  | { kind: 'major'; base: LinkerdRelease; dataPlane: boolean };

/** The release each proxy version names, newest code first (versions the catalog does not know are left out). */
function proxyReleases(request: UpgradePathRequest, releases: readonly LinkerdRelease[]): LinkerdRelease[] {
  return (request.proxyVersions ?? []).flatMap((v) => releases.filter((r) => r.version === v)).sort((a, b) => compareCode(b, a));
}

/** The problem with moving to `target`, or undefined when the move is allowed. */
function judge(request: UpgradePathRequest, target: LinkerdRelease, releases: readonly LinkerdRelease[]): Problem | undefined {
  const from = releases.find((r) => r.version === request.from);
  if (!from) return { kind: 'unknown', version: request.from };
  const proxies = proxyReleases(request, releases);
  const newest = proxies[0] && compareCode(proxies[0], from) > 0 ? proxies[0] : from;
  const oldest = proxies.at(-1) && compareCode(proxies.at(-1)!, from) < 0 ? proxies.at(-1)! : from;
  const downgrade = compareCode(target, newest) < 0;
  if (downgrade && !request.allowDowngrade) return { kind: 'downgrade', newest, dataPlane: newest !== from };
  const base = downgrade ? newest : oldest;
  if (Math.abs(target.major - base.major) > 1) return { kind: 'major', base, dataPlane: base !== from };
  return undefined;
}

/** The refusal's message: what is wrong, what is allowed instead, and how to get to the target. */
function explain(problem: Problem, request: UpgradePathRequest, target: LinkerdRelease, releases: readonly LinkerdRelease[]): string {
  const allowedVersions = releases.filter((r) => r.version !== request.from && judge(request, r, releases) === undefined).map((r) => r.version);
  const allowed = allowedSentence(request.from, '', orList(allowedVersions));
  switch (problem.kind) {
    case 'unknown':
      return `the running Linkerd version "${problem.version}" is not in this operator's catalog (${releases.map((r) => r.version).join(', ')}), so no upgrade path from it can be judged; set spec.version back to ${problem.version} (with an operator whose catalog lists it)`;
    case 'downgrade': {
      const what = problem.dataPlane
        ? `${describe(target)} is older than the ${describe(problem.newest)} proxies pods run, and the control plane may never be older than its data plane`
        : `moving from ${describe(problem.newest)} to ${describe(target)} is a downgrade${target.channel !== problem.newest.channel ? ' (between channels, the edge a release is built from decides)' : ''}`;
      return `${what}: downgrades are refused because they can lose configuration the newer version wrote; ${allowed}; set spec.upgrade.allowDowngrade: true to downgrade anyway`;
    }
    case 'major': {
      const step = target.major > problem.base.major ? problem.base.major + 1 : problem.base.major - 1;
      const hop = releases.find((r) => r.major === step && r.channel === 'stable') ?? releases.find((r) => r.major === step);
      const where = problem.dataPlane ? `pods still run ${problem.base.version} proxies and ` : '';
      return `${where}Linkerd moves one major version at a time, but 2.${problem.base.major} → 2.${target.major} is ${Math.abs(target.major - problem.base.major)}; ${allowed}; ${hop ? `move to ${hop.version} first` : `this operator has no 2.${step} release to go through`}`;
    }
  }
}

/** The verdict on moving a Linkerd installation as `request` asks (see the module comment). */
export function linkerdUpgradePath(request: UpgradePathRequest, releases: readonly LinkerdRelease[] = LINKERD_RELEASES): UpgradePath {
  if (request.from === request.to) return { kind: 'none' };
  const target = releases.find((r) => r.version === request.to);
  if (!target) return refused(`Linkerd version ${request.to} is not in this operator's catalog: ${releases.map((r) => r.version).join(', ')}`);
  const problem = judge(request, target, releases);
  if (problem) return refused(explain(problem, request, target, releases));
  const from = releases.find((r) => r.version === request.from)!;
  const newest = [from, ...proxyReleases(request, releases)].sort((a, b) => compareCode(b, a))[0]!;
  return { kind: 'path', strategy: request.strategy, steps: [{ from: request.from, to: request.to, direction: compareCode(target, newest) < 0 ? 'downgrade' : 'upgrade' }] };
}

/**
 * The notes of the releases between `from` (excluded) and `to` (included) by the edge they are
 * built from, oldest first; on a downgrade, those left behind. Releases with the same note share a line.
 */
export function linkerdUpgradeNotes(from: string, to: string, releases: readonly LinkerdRelease[] = LINKERD_RELEASES): string[] {
  const [source, target] = [releases.find((r) => r.version === from), releases.find((r) => r.version === to)];
  if (!source || !target) return [];
  const upgrade = compareCode(target, source) >= 0;
  const [low, high] = upgrade ? [source, target] : [target, source];
  const crossed = releases.filter((r) => compareCode(r, low) > 0 && compareCode(r, high) <= 0).sort(compareCode);
  const byNote = new Map<string, string[]>();
  for (const release of crossed) byNote.set(release.notes, [...(byNote.get(release.notes) ?? []), release.version]);
  return [...byNote].map(([note, versions]) => `${upgrade ? '' : 'left behind by the downgrade: '}${versions.join(', ')}: ${note}`);
}
