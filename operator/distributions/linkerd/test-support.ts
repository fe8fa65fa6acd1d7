/**
 * Test support for the Linkerd distribution's tests (not a test file itself): installations as
 * the API server hands them over, reading YAML test data, and the fixed CA material.
 */
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { DefaultedMeshInstallation } from '../../api/meshinstallation.ts';
import { withSpecDefaults } from '../../api/defaults.ts';
import type { MeshInstallationSpec } from '../../api/spec.ts';
import type { KubeObject } from '../../runtime/kube.ts';
import type { CertificateAuthorityMaterial, RenderInput } from '../distribution.ts';
import { linkerdDistribution } from './index.ts';

/** A file under this folder's testdata/. */
export function testdataPath(relative: string): URL {
  return new URL(`./testdata/${relative}`, import.meta.url);
}

/** Every Kubernetes object in a multi-document YAML file under testdata/ (empty documents skipped). */
export function readObjects(relative: string): KubeObject[] {
  return parseAllDocuments(readFileSync(testdataPath(relative), 'utf8'))
    .map((doc) => doc.toJS({ maxAliasCount: -1 }) as unknown)
    .filter((o): o is KubeObject => typeof o === 'object' && o !== null && 'kind' in o);
}

/** A MeshInstallation named `linkerd` with the API server's defaults applied to `spec`. */
export function installation(spec: Partial<MeshInstallationSpec> = {}): DefaultedMeshInstallation {
  return {
    apiVersion: 'meshwright.dev/v1alpha1',
    kind: 'MeshInstallation',
    metadata: { name: 'linkerd' },
    spec: withSpecDefaults({ mesh: 'linkerd', version: 'edge-26.8.3', namespace: 'linkerd', ...spec }),
  } as DefaultedMeshInstallation;
}

/** The render input of `spec`, resolved through the catalog. */
export function renderInput(spec: Partial<MeshInstallationSpec> = {}, ca?: CertificateAuthorityMaterial): RenderInput {
  const mi = installation(spec);
  return { installation: mi, resolved: linkerdDistribution.resolve(mi), ...(ca ? { ca } : {}) };
}

/**
 * The fixed, TEST-ONLY CA material committed under testdata/pki/ (see its README): a root, an
 * issuer and the two webhook serving certificates, generated once by generate-pki.ts.
 */
export function testCertificateAuthority(): CertificateAuthorityMaterial {
  const pem = (name: string) => readFileSync(testdataPath(`pki/${name}`), 'utf8');
  const serving = (name: string) => ({ certificatePem: pem(`${name}.crt`), privateKeyPem: pem(`${name}.key`), caBundlePem: pem('webhook-ca.crt') });
  return {
    trustAnchorsPem: pem('root.crt'),
    issuerChainPem: pem('issuer.crt'),
    issuerKeyPem: pem('issuer.key'),
    serving: { 'linkerd-sp-validator': serving('linkerd-sp-validator'), 'linkerd-policy-validator': serving('linkerd-policy-validator') },
  };
}
