/**
 * Each mesh's CA profile says where the mesh publishes its CA (the operator reads those places
 * before it would ever make a new root) and which objects hold private keys (overlays may not
 * touch them): the description must match what the renderer really writes, both ways — every
 * place said to be rendered holds the trust anchors, no rendered Secret or ConfigMap holds them
 * elsewhere unsaid, and the key holders are exactly the rendered objects carrying a key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSpecDefaults } from '../api/defaults.ts';
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import { certificateFingerprints } from '../pki/x509.ts';
import type { KubeObject } from '../runtime/kube.ts';
import type { MeshDistribution } from './distribution.ts';
import { istioDistribution } from './istio/index.ts';
import { linkerdDistribution } from './linkerd/index.ts';
import { carriesPrivateKey } from './render.ts';
import { testCertificateAuthority } from './linkerd/test-support.ts';

const meshes: Array<[MeshDistribution, string]> = [[istioDistribution, '1.31.1'], [linkerdDistribution, 'edge-26.8.3']];
const ca = testCertificateAuthority();
const roots = certificateFingerprints(ca.trustAnchorsPem);

function rendered(distribution: MeshDistribution, version: string) {
  const installation = { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'mesh' }, spec: withSpecDefaults({ mesh: distribution.mesh, version, namespace: 'mesh-system' }) } as DefaultedMeshInstallation;
  const objects = distribution.render({ installation, resolved: distribution.resolve(installation), ca });
  return { objects, published: distribution.certificateAuthority!(installation).published };
}

/** A data value as text (a Secret's is base64). */
const text = (object: KubeObject, key: string) => {
  const value = (object as { data?: Record<string, string> }).data?.[key] ?? '';
  return object.kind === 'Secret' ? Buffer.from(value, 'base64').toString('utf8') : value;
};

for (const [distribution, version] of meshes) {
  test(`${distribution.mesh}: every place the CA profile says the renderer publishes the trust anchors holds them`, () => {
    const { objects, published } = rendered(distribution, version);
    const byRenderer = published.trustAnchors.filter((location) => location.writtenBy === undefined);
    assert.ok(byRenderer.length > 0, 'the renderer publishes the trust anchors somewhere');
    for (const location of byRenderer) {
      const object = objects.find((o) => o.kind === location.kind && o.metadata.name === location.name && o.metadata.namespace === 'mesh-system');
      assert.ok(object, `${location.kind} ${location.name} is rendered`);
      assert.deepEqual(certificateFingerprints(text(object, location.key)), roots, `${location.kind} ${location.name} holds the trust anchors under ${location.key}`);
    }
  });

  test(`${distribution.mesh}: no rendered Secret or ConfigMap holds exactly the trust anchors in a place the CA profile does not name`, () => {
    const { objects, published } = rendered(distribution, version);
    const declared = new Set(published.trustAnchors.map((l) => `${l.kind}/${l.name}/${l.key}`));
    const unsaid: string[] = [];
    for (const object of objects.filter((o) => o.kind === 'Secret' || o.kind === 'ConfigMap')) {
      for (const key of Object.keys((object as { data?: Record<string, string> }).data ?? {})) {
        const found = certificateFingerprints(text(object, key));
        if (found.length > 0 && found.every((f) => roots.includes(f)) && !declared.has(`${object.kind}/${object.metadata.name}/${key}`)) unsaid.push(`${object.kind} ${object.metadata.name} ${key}`);
      }
    }
    assert.deepEqual(unsaid, []);
  });
}

for (const [distribution, version] of meshes) {
  test(`${distribution.mesh}: the objects the CA profile says hold private keys are exactly the rendered ones that do`, () => {
    const { objects, published } = rendered(distribution, version);
    const holding = objects.filter(carriesPrivateKey).map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`).sort();
    assert.ok(holding.length > 0, 'the render with CA material carries keys');
    assert.deepEqual(published.keyHolders.map((h) => `${h.kind}/mesh-system/${h.name}`).sort(), holding);
  });
}
