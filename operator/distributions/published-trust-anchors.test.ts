/**
 * The published trust anchors' lookup shared by the injection webhook and the data-plane status:
 * from what the operator writes, or from the user's Secret when the mesh reads it in place.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSpecDefaults } from '../api/defaults.ts';
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import type { KubeObject } from '../runtime/kube.ts';
import { caFiles } from './istio/ca-secret.ts';
import { istioDistribution } from './istio/index.ts';
import { linkerdDistribution } from './linkerd/index.ts';
import { testCertificateAuthority } from './linkerd/test-support.ts';
import { publishedTrustAnchors, trustAnchorKeysOfUserSecret, type TrustAnchorSources } from './published-trust-anchors.ts';

const ca = testCertificateAuthority();
const b64 = (text: string) => Buffer.from(text).toString('base64');
const OURS = '-----BEGIN CERTIFICATE-----\nOURS\n-----END CERTIFICATE-----\n';

const installation = (mesh: 'istio' | 'linkerd', certificateAuthority?: Record<string, unknown>): DefaultedMeshInstallation => ({
  apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'mesh' },
  spec: withSpecDefaults({ mesh, version: mesh === 'istio' ? '1.31.1' : 'edge-26.8.3', namespace: 'mesh-system', ...(certificateAuthority ? { certificateAuthority } : {}) } as never),
} as DefaultedMeshInstallation);
const external = (namespace: string, name: string) => ({ type: 'External', secretRef: { namespace, name } });

/** The user's Istio plug-in Secret as the referenced-secrets cache keeps it: root-cert.pem only. */
const userCached: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cacerts', namespace: 'mesh-system' }, data: { 'root-cert.pem': b64(caFiles(ca)['root-cert.pem']!) } };
const ownedCacerts: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cacerts', namespace: 'mesh-system' }, data: { 'root-cert.pem': b64(OURS) } };

const sources = (owned: KubeObject[], referenced?: KubeObject[]): TrustAnchorSources => ({
  owned: (kind, namespace, name) => owned.find((o) => o.kind === kind && o.metadata.namespace === namespace && o.metadata.name === name),
  ...(referenced ? { referenced: (namespace: string, name: string) => referenced.find((o) => o.metadata.namespace === namespace && o.metadata.name === name) } : {}),
});

test('publishedTrustAnchors: the user\'s Secret read in place is looked up in the referenced cache, every other location in what the operator writes', () => {
  const rows: Array<{ name: string; mi: DefaultedMeshInstallation; sources: TrustAnchorSources; pem?: string; missing?: RegExp }> = [
    { name: 'SelfSigned: the cacerts the operator writes', mi: installation('istio'), sources: sources([ownedCacerts], [userCached]), pem: OURS },
    { name: 'External elsewhere: the cacerts the operator writes from it', mi: installation('istio', external('cert-manager', 'issuer')), sources: sources([ownedCacerts], [userCached]), pem: OURS },
    { name: 'External cacerts in another namespace: not in place', mi: installation('istio', external('other', 'cacerts')), sources: sources([ownedCacerts], [userCached]), pem: OURS },
    { name: 'External cacerts used in place: the user\'s root-cert.pem', mi: installation('istio', external('mesh-system', 'cacerts')), sources: sources([], [userCached]), pem: caFiles(ca)['root-cert.pem'] },
    { name: 'in place: never an owned object of that name', mi: installation('istio', external('mesh-system', 'cacerts')), sources: sources([ownedCacerts], [userCached]), pem: caFiles(ca)['root-cert.pem'] },
    { name: 'in place, not cached yet', mi: installation('istio', external('mesh-system', 'cacerts')), sources: sources([ownedCacerts], []), missing: /^Secret mesh-system\/cacerts \(key root-cert\.pem, your External CA Secret\)$/ },
    { name: 'in place, no referenced cache', mi: installation('istio', external('mesh-system', 'cacerts')), sources: sources([ownedCacerts]), missing: /your External CA Secret/ },
    { name: 'in place, cached without the entry', mi: installation('istio', external('mesh-system', 'cacerts')), sources: sources([], [{ ...userCached, data: {} }]), missing: /cacerts/ },
    { name: 'SelfSigned, nothing written yet', mi: installation('istio'), sources: sources([], [userCached]), missing: /^Secret mesh-system\/cacerts \(key root-cert\.pem\)$/ },
  ];
  for (const row of rows) {
    const found = publishedTrustAnchors(istioDistribution, row.mi, row.sources);
    if (row.pem !== undefined) assert.deepEqual(found, { pem: row.pem }, row.name);
    else {
      assert.ok(found && 'missing' in found, row.name);
      assert.match(found.missing.join(' or '), row.missing!, row.name);
    }
  }
});

test('trustAnchorKeysOfUserSecret: the public entries a mesh reads its trust anchors from in the user\'s Secret, never a key', () => {
  const rows: Array<[string, DefaultedMeshInstallation, { namespace: string; name: string }, string[]]> = [
    ['Istio, cacerts in place', installation('istio', external('mesh-system', 'cacerts')), { namespace: 'mesh-system', name: 'cacerts' }, ['root-cert.pem']],
    ['Istio, a Secret elsewhere', installation('istio', external('cert-manager', 'issuer')), { namespace: 'cert-manager', name: 'issuer' }, []],
    ['Istio, cacerts of another namespace', installation('istio', external('other', 'cacerts')), { namespace: 'other', name: 'cacerts' }, []],
    ['Istio, a Secret the installation does not name', installation('istio', external('mesh-system', 'cacerts')), { namespace: 'mesh-system', name: 'x' }, []],
    ['Istio, SelfSigned', installation('istio'), { namespace: 'mesh-system', name: 'cacerts' }, []],
    ['Linkerd, its issuer Secret in place', installation('linkerd', external('mesh-system', 'linkerd-identity-issuer')), { namespace: 'mesh-system', name: 'linkerd-identity-issuer' }, ['ca.crt']],
  ];
  for (const [name, mi, secret, keys] of rows) {
    const distribution = mi.spec.mesh === 'istio' ? istioDistribution : linkerdDistribution;
    const found = trustAnchorKeysOfUserSecret(distribution, mi, secret);
    assert.deepEqual(found, keys, name);
    assert.ok(found.every((key) => !/key/i.test(key)), `${name}: no key entry`);
  }
});
