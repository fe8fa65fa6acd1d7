import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSpecDefaults } from '../api/defaults.ts';
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import type { CertificateAuthorityMaterial, MeshDistribution } from '../distributions/distribution.ts';
import { istioDistribution } from '../distributions/istio/index.ts';
import { linkerdDistribution } from '../distributions/linkerd/index.ts';
import { testCertificateAuthority } from '../distributions/linkerd/test-support.ts';
import { renderInstallation } from '../distributions/render.ts';
import { CertificateAuthorityError } from '../pki/authority.ts';
import type { KubeObject } from '../runtime/kube.ts';
import { userSecretUse } from './certificate-authority.ts';
import { INSTALLATION_LABEL } from './ownership.ts';

const ca = testCertificateAuthority();
const b64 = (text: string) => Buffer.from(text).toString('base64');

/** A cert-manager-layout Secret holding `ca`, as a user would keep it. */
function userSecret(namespace: string, name: string, data: Record<string, string> = { 'ca.crt': ca.trustAnchorsPem, 'tls.crt': ca.issuerChainPem, 'tls.key': ca.issuerKeyPem }, labels?: Record<string, string>): KubeObject & { data: Record<string, string> } {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, ...(labels ? { labels } : {}) }, type: 'kubernetes.io/tls', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) };
}

function render(distribution: MeshDistribution, version: string, material: CertificateAuthorityMaterial = ca): KubeObject[] {
  const installation = { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'mesh' }, spec: withSpecDefaults({ mesh: distribution.mesh, version, namespace: 'linkerd' }) } as DefaultedMeshInstallation;
  return renderInstallation(distribution, { installation, resolved: distribution.resolve(installation), ca: material });
}

function refusal(run: () => unknown): CertificateAuthorityError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof CertificateAuthorityError);
    return error;
  }
  return assert.fail('expected a refusal');
}

test('a user\'s Secret whose name the mesh never renders is copied from (no clash)', () => {
  assert.equal(userSecretUse(userSecret('cert-manager', 'linkerd-identity-issuer'), render(linkerdDistribution, 'edge-26.8.3'), ca), false);
  assert.equal(userSecretUse(userSecret('linkerd', 'corp-issuer'), render(linkerdDistribution, 'edge-26.8.3'), ca), false);
});

test('Linkerd\'s issuer kept by cert-manager in the mesh namespace is the layout identity reads: used in place (a chain ending in the root too)', () => {
  assert.equal(userSecretUse(userSecret('linkerd', 'linkerd-identity-issuer'), render(linkerdDistribution, 'edge-26.8.3'), ca), true);
  const withRoot = userSecret('linkerd', 'linkerd-identity-issuer', { 'ca.crt': ca.trustAnchorsPem, 'tls.crt': `${ca.issuerChainPem.trim()}\r\n${ca.trustAnchorsPem}`, 'tls.key': ca.issuerKeyPem });
  assert.equal(userSecretUse(withRoot, render(linkerdDistribution, 'edge-26.8.3'), ca), true);
});

test('a Secret under the mesh\'s own name but not in its layout stalls (SecretNameTaken), naming the keys, never the values', () => {
  const istio = refusal(() => userSecretUse(userSecret('linkerd', 'cacerts'), render(istioDistribution, '1.31.1'), ca));
  assert.equal(istio.reason, 'SecretNameTaken');
  assert.equal(istio.stalls, true);
  assert.match(istio.message, /^Secret linkerd\/cacerts, named in spec.certificateAuthority.secretRef, is yours, and the operator never writes over a Secret it did not create, so nothing is written: the mesh reads ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem from a Secret of that name/);
  assert.match(istio.message, /give the Secret you keep the CA in another name .* the operator then writes what the mesh needs under linkerd\/cacerts itself$/);
  const otherKey = userSecret('linkerd', 'linkerd-identity-issuer', { 'ca.crt': ca.trustAnchorsPem, 'tls.crt': ca.issuerChainPem, 'tls.key': ca.serving!['linkerd-sp-validator']!.privateKeyPem });
  const linkerd = refusal(() => userSecretUse(otherKey, render(linkerdDistribution, 'edge-26.8.3'), ca));
  assert.match(linkerd.message, /\(tls\.key missing or different\)/);
  assert.doesNotMatch(linkerd.message + istio.message, /PRIVATE KEY|BEGIN|LS0t/, 'no value in the message');
});

test('a secretRef naming a Secret meshwright writes itself is refused (SecretRefIsOurs): it would be its own source', () => {
  const ours = userSecret('linkerd', 'linkerd-identity-issuer', undefined, { [INSTALLATION_LABEL]: 'mesh' });
  const error = refusal(() => userSecretUse(ours, render(linkerdDistribution, 'edge-26.8.3'), ca));
  assert.equal(error.reason, 'SecretRefIsOurs');
  assert.match(error.message, /is one meshwright writes itself \(label meshwright.dev\/installation=mesh\)/);
});

test('the render path leaves out the mesh\'s own Secret where the user\'s is read in place, and nothing else', () => {
  const all = render(linkerdDistribution, 'edge-26.8.3');
  const inPlace = render(linkerdDistribution, 'edge-26.8.3', { ...ca, usedInPlace: { namespace: 'linkerd', name: 'linkerd-identity-issuer' } });
  const key = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  assert.deepEqual(all.map(key).filter((k) => !inPlace.map(key).includes(k)), ['Secret/linkerd/linkerd-identity-issuer']);
  assert.equal(inPlace.length, all.length - 1);
});
