/**
 * The mesh CA in Istio's plug-in layout, and what Istio asks of the CA the operator creates.
 *
 * istiod reads the Secret `cacerts` of its namespace (mounted at /etc/cacerts): `ca-cert.pem` and
 * `ca-key.pem` are the issuer it signs workload certificates with, `cert-chain.pem` the chain it
 * hands out with them (issuer up to and including the root), `root-cert.pem` the trust anchors it
 * publishes to every namespace (both roots during a root rotation).
 */
import type { DefaultedMeshInstallation } from '../../api/meshinstallation.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import { findIssuer, splitCertificates } from '../../pki/x509.ts';
import type { CertificateAuthorityMaterial, CertificateAuthorityProfile, PublishedCertificateAuthority } from '../distribution.ts';
import { meta, type IstioScope } from './scope.ts';

/** Name of istiod's plug-in CA Secret. */
export const CA_SECRET_NAME = 'cacerts';

/** Ends a PEM text with exactly one newline, so concatenations stay well-formed. */
function pemBlock(pem: string): string {
  return `${pem.trim()}\n`;
}

/**
 * The root that issued the last certificate of the issuer chain. During a root rotation there are
 * two anchors and the chain must end in the right one; when none matches (which the operator's CA
 * checks rule out) every anchor is appended, so verification still finds its root.
 */
function issuingRoots(issuerChain: string[], anchors: string[]): string[] {
  const root = findIssuer(issuerChain[issuerChain.length - 1]!, anchors);
  return root ? [root] : anchors;
}

/** The `cacerts` Secret's four PEM files. */
export function caFiles(ca: CertificateAuthorityMaterial): Record<string, string> {
  const chain = splitCertificates(ca.issuerChainPem);
  const anchors = splitCertificates(ca.trustAnchorsPem);
  if (chain.length === 0 || anchors.length === 0) throw new Error('CA material has no issuer certificate or no trust anchor');
  return {
    'ca-cert.pem': pemBlock(chain[0]!),
    'ca-key.pem': pemBlock(ca.issuerKeyPem),
    'cert-chain.pem': [...chain, ...issuingRoots(chain, anchors)].map(pemBlock).join(''),
    'root-cert.pem': anchors.map(pemBlock).join(''),
  };
}

/**
 * The plug-in CA Secret; absent without CA material (offline render: keys never leave the
 * cluster). `data`, not `stringData`, so server-side apply compares what the API server stores.
 * Shared by every revision: one mesh, one CA.
 */
export function computeCaSecret(scope: IstioScope): KubeObject[] {
  if (!scope.ca) return [];
  const data = Object.fromEntries(Object.entries(caFiles(scope.ca)).map(([key, pem]) => [key, Buffer.from(pem).toString('base64')]));
  return [{ apiVersion: 'v1', kind: 'Secret', metadata: meta(CA_SECRET_NAME, scope.namespace), type: 'Opaque', data }];
}

/**
 * Where Istio's CA can be seen: the plug-in Secret rendered here, and the ConfigMap istiod writes
 * the root into in every namespace (its own included), which outlives istiod.
 */
export const ISTIO_PUBLISHED_CA: PublishedCertificateAuthority = {
  trustAnchors: [
    { kind: 'Secret', name: CA_SECRET_NAME, key: 'root-cert.pem' },
    { kind: 'ConfigMap', name: 'istio-ca-root-cert', key: 'root-cert.pem', writtenBy: 'controlPlane' },
  ],
  keyHolders: [{ kind: 'Secret', name: CA_SECRET_NAME }],
};

/**
 * The CA Istio needs: subjects as Istio's certificate tooling names them (`Root CA` and
 * `Intermediate CA`), with the trust domain as organization as istiod's own self-signed root has
 * it; RSA 2048 keys like Istio's CA by default, ECDSA P-256 accepted too (istiod signs with
 * either). The issuer carries istiod's DNS name as Istio's tooling puts it; istiod makes its own
 * serving certificates, so no serving certificates are asked for.
 */
export function istioCertificateAuthority(installation: DefaultedMeshInstallation): CertificateAuthorityProfile {
  const { trustDomain } = installation.spec.meshConfig;
  return {
    root: { commonName: 'Root CA', organization: trustDomain },
    issuer: { commonName: 'Intermediate CA', organization: trustDomain },
    issuerDnsNames: [`istiod.${installation.spec.namespace}.svc`],
    defaultKeyAlgorithm: 'RSA2048',
    keyAlgorithms: ['RSA2048', 'ECDSAP256'],
    published: ISTIO_PUBLISHED_CA,
  };
}
