/**
 * What Linkerd asks of the mesh CA: an ECDSA P-256 root and issuer (identity and the proxies accept
 * no other algorithm, whoever makes the CA) named the way Linkerd's own
 * tooling names them, the issuer carrying the DNS name identity verifies it by, and serving
 * certificates for the two validating webhooks.
 */
import type { DefaultedMeshInstallation } from '../../api/meshinstallation.ts';
import type { CertificateAuthorityProfile, PublishedCertificateAuthority } from '../distribution.ts';
import { ISSUER_SECRET, TRUST_ROOTS } from './config.ts';
import { SERVING_CERTIFICATES, servingCertificateRequests, tlsSecretName } from './webhooks.ts';

/**
 * Where Linkerd's CA can be seen: the trust-roots ConfigMap every proxy mounts, and the issuer
 * Secret's `ca.crt`; the issuer and webhook serving Secrets hold private keys.
 */
export const LINKERD_PUBLISHED_CA: PublishedCertificateAuthority = {
  trustAnchors: [
    { kind: 'ConfigMap', name: TRUST_ROOTS.name, key: TRUST_ROOTS.key },
    { kind: 'Secret', name: ISSUER_SECRET, key: 'ca.crt' },
  ],
  keyHolders: [ISSUER_SECRET, ...Object.values(SERVING_CERTIFICATES).map(tlsSecretName)].map((name) => ({ kind: 'Secret', name })),
};

/**
 * The CA profile of a Linkerd installation. Identity checks that its issuer certificate is valid
 * for `identity.<control-plane namespace>.<trust domain>` (`identity.linkerd.cluster.local` by
 * default), so that name is the issuer's common name and only subjectAltName.
 */
export function linkerdCertificateAuthority(installation: DefaultedMeshInstallation): CertificateAuthorityProfile {
  const { namespace, meshConfig } = installation.spec;
  const trustDomain = meshConfig.trustDomain;
  const issuerName = `identity.${namespace}.${trustDomain}`;
  return {
    root: { commonName: `root.${namespace}.${trustDomain}` },
    issuer: { commonName: issuerName },
    issuerDnsNames: [issuerName],
    defaultKeyAlgorithm: 'ECDSAP256',
    keyAlgorithms: ['ECDSAP256'],
    servingCertificates: servingCertificateRequests(namespace),
    published: LINKERD_PUBLISHED_CA,
  };
}
