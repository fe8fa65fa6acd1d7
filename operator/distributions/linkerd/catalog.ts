/**
 * The Linkerd versions meshwright installs, and how a spec's version becomes images.
 *
 * Two manifest shapes are in the catalog, each checked against Linkerd's own install goldens
 * (`testdata/reference/` for 2.20 and the edges after it, `testdata/reference/version-2.19/` for
 * 2.19; see conformance.test.ts):
 * - 2.20 and later: proxy-init ships inside the proxy image (`/usr/lib/linkerd/linkerd2-proxy-init`),
 *   proxies run as native sidecars by default (the destination pod's proxy is an init container
 *   that keeps running, held ready by a startup probe), and the config's pod monitors carry
 *   `honorTimestamps: false`;
 * - 2.19: proxy-init is its own image (`proxy-init:v2.4.3`), proxies are classic sidecars by
 *   default (the destination pod's proxy is its first container, held ready by a `linkerd-await`
 *   postStart hook), and the pod monitors have no `honorTimestamps`.
 * The policy controller ships inside the controller image in both. Older majors (2.18) are not
 * listed: we only ship versions whose render is verified.
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
  /** How this release's install manifest is shaped (the facts that differ between majors). */
  shape: LinkerdManifestShape;
}

/** The facts of a release's install manifest that differ between Linkerd majors. */
export interface LinkerdManifestShape {
  /** `proxy.nativeSidecar`'s default: proxies run as native sidecars unless a pod says otherwise. */
  nativeSidecars: boolean;
  /**
   * proxy-init's own image (repository under the registry, and tag) for releases that ship it
   * apart; absent: proxy-init is a binary inside the proxy image.
   */
  proxyInitImage?: { name: string; tag: string };
  /** Whether the config's pod-monitor sections carry `honorTimestamps` (added in 2.20). */
  podMonitorHonorTimestamps: boolean;
}

/** The 2.20 shape, which every edge since edge-26.6.3 keeps. */
const SHAPE_2_20: LinkerdManifestShape = { nativeSidecars: true, podMonitorHonorTimestamps: true };

/** The 2.19 shape (version-2.19 is edge-25.10.7): a separate proxy-init image, classic sidecars. */
const SHAPE_2_19: LinkerdManifestShape = { nativeSidecars: false, proxyInitImage: { name: 'proxy-init', tag: 'v2.4.3' }, podMonitorHonorTimestamps: false };

/**
 * Supported releases, newest first. `2.20` is Linkerd's `version-2.20` tag, cut from edge-26.6.3,
 * and `2.19` is `version-2.19`, the edge-25.10.7 commit (Linkerd publishes images under edge tags
 * only, so each alias resolves to its edge's tag). The edges after 2.20 keep its manifest shape:
 * the upstream install goldens are byte-identical at version-2.20 and edge-26.8.3.
 */
export const LINKERD_RELEASES: readonly LinkerdRelease[] = [
  { version: 'edge-26.8.3', imageTag: 'edge-26.8.3', major: 20, channel: 'edge', proxyRelease: 'v2.366.0', notes: 'Proxy and control-plane fixes; same install manifest as 2.20.', shape: SHAPE_2_20 },
  { version: 'edge-26.8.2', imageTag: 'edge-26.8.2', major: 20, channel: 'edge', proxyRelease: 'v2.364.0', notes: 'Proxy and control-plane fixes; same install manifest as 2.20.', shape: SHAPE_2_20 },
  { version: 'edge-26.8.1', imageTag: 'edge-26.8.1', major: 20, channel: 'edge', proxyRelease: 'v2.364.0', notes: 'Proxy and control-plane fixes; same install manifest as 2.20.', shape: SHAPE_2_20 },
  {
    version: '2.20', imageTag: 'edge-26.6.3', major: 20, channel: 'stable', proxyRelease: 'v2.359.0',
    notes: 'Linkerd 2.20: proxies run as native sidecars by default (a restarted workload gets its proxy as an init container), proxy-init runs from the proxy image (no proxy-init image any more).',
    shape: SHAPE_2_20,
  },
  {
    version: '2.19', imageTag: 'edge-25.10.7', major: 19, channel: 'stable', proxyRelease: 'v2.326.0',
    notes: 'Linkerd 2.19: classic sidecars held by linkerd-await, proxy-init from its own image (v2.4.3).',
    shape: SHAPE_2_19,
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
  const init = release.shape.proxyInitImage;
  return { controller: image('controller'), proxy: image('proxy'), debug: image('debug'), ...(init ? { proxyInit: `${registry}/${init.name}:${init.tag}` } : {}) };
}

/** The manifest shape of `version`; a version the catalog does not list gets the newest shape. */
export function shapeOf(version: string): LinkerdManifestShape {
  return (findRelease(version) ?? LINKERD_RELEASES[0]!).shape;
}

/**
 * Images by component. `controller` also runs the policy controller and the heartbeat; `proxy`
 * also carries proxy-init; `debug` is only referenced by the config (for `linkerd.io/debug` pods).
 */
export interface LinkerdImages {
  controller: string;
  proxy: string;
  debug: string;
  /** proxy-init's own image, for releases that ship it apart (2.19); absent: the proxy image carries it. */
  proxyInit?: string;
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
