/**
 * Where the operator finds the trust anchors a mesh publishes (its CA profile's
 * `published.trustAnchors`, the locations its renderer writes): the one lookup the injection
 * webhook's admission and the data-plane status share, so both give and compare the same text.
 *
 * A location is either a Secret or ConfigMap the operator writes (found by `owned`), or — when the
 * installation's External CA names a Secret of exactly that name in the control-plane namespace,
 * which the mesh then reads in place — the user's Secret, which the operator never writes: found
 * by `referenced`, a cache that keeps of it only the public certificate entries these locations
 * name (controllers/referenced-secrets.ts), never a key.
 */
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import type { KubeObject } from '../runtime/kube.ts';
import type { MeshDistribution, TrustAnchorLocation } from './distribution.ts';

/** Where published trust anchors may be read from. */
export interface TrustAnchorSources {
  /** An object the operator writes (a label-selected cache, or the rendered set of a pass). */
  owned(kind: 'Secret' | 'ConfigMap', namespace: string, name: string): KubeObject | undefined;
  /** The user's Secret an External CA names, as the referenced-secrets cache keeps it (public entries only). */
  referenced?(namespace: string, name: string): KubeObject | undefined;
}

/** The published trust anchors, or where they were looked for in vain. */
export type PublishedTrustAnchors = { pem: string } | { missing: string[] };

/** The Secret an installation's External CA names; undefined for any other CA. */
function externalSecretRef(installation: DefaultedMeshInstallation): { namespace: string; name: string } | undefined {
  const ca = (installation.spec as { certificateAuthority?: { type?: string; secretRef?: { namespace?: string; name?: string } } }).certificateAuthority;
  if (ca?.type !== 'External' || !ca.secretRef?.name || !ca.secretRef.namespace) return undefined;
  return { namespace: ca.secretRef.namespace, name: ca.secretRef.name };
}

/** Whether `location` (in the control-plane namespace) is the user's own Secret, which the mesh reads in place. */
export function isUserSecretLocation(installation: DefaultedMeshInstallation, location: TrustAnchorLocation): boolean {
  const ref = externalSecretRef(installation);
  return location.kind === 'Secret' && ref !== undefined && ref.namespace === installation.spec.namespace && ref.name === location.name;
}

/** The locations the operator can read: those the renderer writes (what the control plane writes is not cached). */
function readableLocations(distribution: MeshDistribution, installation: DefaultedMeshInstallation): TrustAnchorLocation[] | undefined {
  const profile = distribution.certificateAuthority?.(installation);
  return profile?.published.trustAnchors.filter((location) => location.writtenBy === undefined);
}

/**
 * The keys of the user's Secret `secret` that the installation's mesh reads its published trust
 * anchors from (public certificates: `root-cert.pem` for Istio's plug-in layout); empty when the
 * Secret stands in for no location. What the referenced-secrets cache may keep of it.
 */
export function trustAnchorKeysOfUserSecret(distribution: MeshDistribution, installation: DefaultedMeshInstallation, secret: { namespace: string; name: string }): string[] {
  const ref = externalSecretRef(installation);
  if (!ref || ref.namespace !== secret.namespace || ref.name !== secret.name) return [];
  return (readableLocations(distribution, installation) ?? []).filter((location) => isUserSecretLocation(installation, location)).map((location) => location.key);
}

/** A location's text in `object` (a Secret's data is base64). */
function dataText(object: KubeObject, location: TrustAnchorLocation): string | undefined {
  const value = (object as { data?: Record<string, string> }).data?.[location.key];
  if (value === undefined) return undefined;
  return location.kind === 'Secret' ? Buffer.from(value, 'base64').toString('utf8') : value;
}

/**
 * The trust anchors (PEM) the mesh publishes: the first readable location holding a certificate,
 * read from the user's Secret when the location is that Secret, else from what the operator writes.
 * Undefined for a mesh without a CA the operator manages. Proxies given exactly this text record
 * {@link trustBundleSha256} of it, so admission and the data-plane status compare.
 */
export function publishedTrustAnchors(distribution: MeshDistribution, installation: DefaultedMeshInstallation, sources: TrustAnchorSources): PublishedTrustAnchors | undefined {
  const locations = readableLocations(distribution, installation);
  if (!locations) return undefined;
  const namespace = installation.spec.namespace;
  for (const location of locations) {
    const object = isUserSecretLocation(installation, location)
      ? sources.referenced?.(namespace, location.name)
      : sources.owned(location.kind, namespace, location.name);
    const pem = object && dataText(object, location);
    if (pem?.includes('-----BEGIN CERTIFICATE-----')) return { pem };
  }
  return {
    missing: locations.map((l) => `${l.kind} ${namespace}/${l.name} (key ${l.key}${isUserSecretLocation(installation, l) ? ', your External CA Secret' : ''})`),
  };
}
