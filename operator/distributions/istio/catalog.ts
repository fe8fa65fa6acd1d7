/**
 * The Istio versions this operator installs, what differs between their minors, and how a version
 * turns into images and a revision name.
 *
 * Kept as data: supporting a new release is a new row, not new code. Between 1.29 and 1.31 the
 * objects we render have the same shape (same ports, flags, RBAC and webhook rules as far as the
 * reference manifests and Istio's profiles tell), so each minor's `istiodEnv` is empty; what does
 * change is the default of a few istiod feature flags, recorded in `behaviourChanges` so that an
 * upgrade can tell the user (or pin the old behaviour through `istiodEnv`).
 */
import semver from 'semver';
import type { DefaultedMeshInstallation } from '../../api/meshinstallation.ts';
import { UnsupportedSpecError, type ResolvedVersion } from '../distribution.ts';

/** One Istio minor release line as the catalog knows it. */
export interface IstioMinorRelease {
  /** `1.MINOR`. */
  minor: string;
  /** Supported patch versions, newest first. */
  patches: readonly string[];
  /**
   * Feature flags whose default changed in this minor, with the value that restores the previous
   * minor's behaviour (Istio's "compatibility version" profiles hold the same facts).
   */
  behaviourChanges: Readonly<Record<string, string>>;
  /** Extra istiod environment this minor needs from us; empty while our render fits all minors. */
  istiodEnv: Readonly<Record<string, string>>;
}

/**
 * Supported releases, newest minor first: three consecutive minors, images `pilot` and `proxyv2`
 * under docker.io/istio tagged with the version. Provenance of the patch tags, checked against the
 * istio/istio snapshot of 2026-08-22: 1.29.3, 1.29.4, 1.30.2 and 1.30.3 are release tags there
 * (1.29.5 and 1.29.6 too, not listed yet); 1.30.4, 1.31.0 and 1.31.1 are later than that snapshot
 * (1.31.0-rc.0 was the newest 1.31 tag) and were not verified against it.
 */
export const ISTIO_RELEASES: readonly IstioMinorRelease[] = [
  {
    minor: '1.31',
    patches: ['1.31.1', '1.31.0'],
    behaviourChanges: {
      PILOT_ENABLE_STRICT_GATEWAY_MERGING: 'false',
      PILOT_AUTO_SEND_UNHEALTHY_ENDPOINTS: 'false',
      PILOT_ENABLE_HEADLESS_FILTER_CHAIN_LISTENER: 'false',
      PILOT_SPAWN_UPSTREAM_SPAN_FOR_GATEWAY: 'false',
    },
    istiodEnv: {},
  },
  {
    minor: '1.30',
    patches: ['1.30.4', '1.30.3', '1.30.2'],
    behaviourChanges: { PILOT_SIDECAR_PICK_BEST_SERVICE_NAMESPACE: 'false' },
    istiodEnv: {},
  },
  {
    minor: '1.29',
    patches: ['1.29.4', '1.29.3'],
    behaviourChanges: { DISABLE_TRACK_REMAINING_CB_METRICS: 'false' },
    istiodEnv: {},
  },
];

/** Every supported version, newest first. */
export const ISTIO_CATALOG: readonly string[] = ISTIO_RELEASES.flatMap((release) => release.patches).sort(semver.rcompare);

/** Where Istio publishes its images; `spec.registry` replaces it. */
export const ISTIO_DEFAULT_REGISTRY = 'docker.io/istio';

/** The release line a catalog version belongs to. */
export function minorRelease(version: string): IstioMinorRelease {
  const release = ISTIO_RELEASES.find((candidate) => candidate.patches.includes(version));
  if (!release) throw new Error(`internal: ${version} is not in the Istio catalog`);
  return release;
}

/** Istio's revision name for a version: dots become dashes (`1.31.1` → `1-31-1`). */
export function revisionName(version: string): string {
  return version.replaceAll('.', '-');
}

/** Image references of a version, keyed by component (`pilot` for istiod, `proxyv2` for gateways). */
export function istioImages(version: string, registry: string = ISTIO_DEFAULT_REGISTRY): Record<string, string> {
  return { pilot: `${registry}/pilot:${version}`, proxyv2: `${registry}/proxyv2:${version}` };
}

/** The error message for a version outside the catalog: what is supported, and the nearest fit. */
function notInCatalogMessage(version: string): string {
  const parsed = semver.valid(version);
  const sameMinor = parsed ? ISTIO_CATALOG.filter((candidate) => semver.major(candidate) === semver.major(parsed) && semver.minor(candidate) === semver.minor(parsed)) : [];
  const hint = sameMinor.length > 0
    ? `; for ${semver.major(parsed!)}.${semver.minor(parsed!)} use ${sameMinor[0]}`
    : parsed && semver.gt(parsed, ISTIO_CATALOG[0]!) ? `; the newest this operator knows is ${ISTIO_CATALOG[0]} (upgrade the operator for newer Istio releases)` : '';
  return `Istio version ${version} is not in this operator's catalog; set spec.version to one of: ${ISTIO_CATALOG.join(', ')}${hint}`;
}

/** Looks the spec's version up; throws UnsupportedSpecError('VersionNotInCatalog') naming the supported versions. */
export function resolveIstioVersion(installation: DefaultedMeshInstallation): ResolvedVersion {
  const { version, registry } = installation.spec;
  if (!ISTIO_CATALOG.includes(version)) throw new UnsupportedSpecError('VersionNotInCatalog', notInCatalogMessage(version));
  return { version, revision: revisionName(version), images: istioImages(version, registry) };
}
