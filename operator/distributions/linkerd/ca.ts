/**
 * What Linkerd asks of the mesh CA: an ECDSA P-256 root and issuer named the way Linkerd's own
 * tooling names them, the issuer carrying the DNS name identity verifies it by, and serving
 * certificates for the two validating webhooks.
 */
import type { DefaultedMeshInstallation } from '../../api/meshinstallation.ts';
import type { CertificateAuthorityProfile } from '../distribution.ts';
import { servingCertificateRequests } from './webhooks.ts';

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
    servingCertificates: servingCertificateRequests(namespace),
  };
}
