/**
 * The Linkerd versions meshwright installs, and how a spec's version becomes images.
 *
 * Every entry renders the manifest shape of Linkerd 2.20 (checked against the upstream goldens in
 * `testdata/reference/`, which are byte-identical at `version-2.20` and `edge-26.8.3`): the policy
 * controller ships inside the controller image (`/linkerd-policy-controller`), proxy-init inside
 * the proxy image (`/usr/lib/linkerd/linkerd2-proxy-init`), and control-plane proxies run as
 * native sidecars. Older majors (2.19, 2.18) are not listed: their installs differ in exactly those
 * places (separate `policy-controller` and `proxy-init` images, classic sidecars with a
 * `linkerd-await` hook), and we only ship versions whose render is verified.
 */
import { UnsupportedSpecError, type ResolvedVersion } from '../distribution.ts';
import type { DefaultedMeshInstallation } from '../../api/meshinstallation.ts';

/** Where Linkerd publishes its images; `spec.registry` replaces it. */
export const LINKERD_REGISTRY = 'cr.l5d.io/linkerd';

/** One installable Linkerd version. */
export interface LinkerdRelease {
  /** The version as written in `spec.version`. */
  version: string;
  /** Tag of every image of this release (a stable alias points at the edge release it was cut from). */
  imageTag: string;
  /** The Linkerd major (2.MAJOR) this release belongs to, for upgrade-path rules. */
  major: number;
  /** `stable`: Linkerd's `version-2.N` tag; `edge`: a weekly edge release. */
  channel: 'stable' | 'edge';
  /** The linkerd2-proxy release inside the proxy image, where known (informational). */
  proxyRelease?: string;
  /** What changes for users compared with the next-older entry. */
  notes: string;
}

/**
 * Supported releases, newest first. `2.20` is Linkerd's `version-2.20` tag, cut from edge-26.6.3
 * (Linkerd publishes images under edge tags only, so the alias resolves to that tag). The edges
 * after it keep the 2.20 manifest shape: the upstream install goldens did not change between
 * 2026-05-15 and edge-26.8.3.
 */
export const LINKERD_RELEASES: readonly LinkerdRelease[] = [
  { version: 'edge-26.8.3', imageTag: 'edge-26.8.3', major: 20, channel: 'edge', proxyRelease: 'v2.366.0', notes: 'Proxy and control-plane fixes; same install manifest as 2.20.' },
  { version: 'edge-26.8.2', imageTag: 'edge-26.8.2', major: 20, channel: 'edge', notes: 'Proxy and control-plane fixes; same install manifest as 2.20.' },
  { version: 'edge-26.8.1', imageTag: 'edge-26.8.1', major: 20, channel: 'edge', notes: 'Proxy and control-plane fixes; same install manifest as 2.20.' },
  {
    version: '2.20', imageTag: 'edge-26.6.3', major: 20, channel: 'stable', proxyRelease: 'v2.359.0',
    notes: 'Linkerd 2.20: native sidecars by default, rate-limit-aware load balancing, lower destination-controller memory.',
  },
];

/** The versions of the catalog, newest first (the distribution's `catalog`). */
export const LINKERD_CATALOG: readonly string[] = LINKERD_RELEASES.map((r) => r.version);

/** The release for `version`, if the catalog has it. */
export function findRelease(version: string): LinkerdRelease | undefined {
  return LINKERD_RELEASES.find((r) => r.version === version);
}

/**
 * Linkerd has no revisions (one control plane per cluster, upgraded in place): the revision is
 * the version in a form that is a valid label value and DNS label (`edge-26-8-3`, `2-20`).
 */
export function revisionOf(version: string): string {
  return version.replaceAll('.', '-');
}

/** Image references of a release, from `registry` (default {@link LINKERD_REGISTRY}). */
export function imagesOf(release: LinkerdRelease, registry: string = LINKERD_REGISTRY): LinkerdImages {
  const image = (name: string) => `${registry}/${name}:${release.imageTag}`;
  return { controller: image('controller'), proxy: image('proxy'), debug: image('debug') };
}

/**
 * Images by component. `controller` also runs the policy controller and the heartbeat; `proxy`
 * also carries proxy-init; `debug` is only referenced by the config (for `linkerd.io/debug` pods).
 */
export interface LinkerdImages {
  controller: string;
  proxy: string;
  debug: string;
}

/** Resolves the spec's version; throws UnsupportedSpecError (VersionNotInCatalog) naming what is supported. */
export function resolveLinkerdVersion(installation: DefaultedMeshInstallation): ResolvedVersion {
  const { version, registry } = installation.spec;
  const release = findRelease(version);
  if (!release) {
    throw new UnsupportedSpecError(
      'VersionNotInCatalog',
      `Linkerd version ${version} is not in this operator's catalog; supported versions (newest first): ${LINKERD_CATALOG.join(', ')}`,
    );
  }
  return { version, revision: revisionOf(version), images: { ...imagesOf(release, registry) } };
}

/** Position of the tag separator in an image reference, or -1 (a `:` before the last `/` is a registry port). */
function tagSeparator(image: string): number {
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? colon : -1;
}

/** The tag of an image reference (what Linkerd records as the proxy and controller version). */
export function imageTag(image: string): string {
  const colon = tagSeparator(image);
  return colon < 0 ? 'latest' : image.slice(colon + 1);
}

/** The repository of an image reference (`cr.l5d.io/linkerd/proxy` of `cr.l5d.io/linkerd/proxy:edge-26.8.3`). */
export function imageRepository(image: string): string {
  const colon = tagSeparator(image);
  return colon < 0 ? image : image.slice(0, colon);
}
