/**
 * The mesh layouts through a root rotation (issue #17): a real CA walked through the CA-state
 * steps of pki/rotation-state.ts — one root, the overlap, the issuer switched to the new root, the
 * new root alone — and each step rendered by the Istio and the Linkerd distribution, checked the
 * way each mesh reads it:
 *
 * - Istio (`cacerts`): istiod takes a changed root-cert.pem only when the new bytes contain the old
 *   ones or the reverse (pilot's cacerts watcher): each step's must, byte for byte. ca-cert.pem
 *   chains through cert-chain.pem to a root in root-cert.pem; istiod's pod template changes with
 *   the anchors (it restarts onto them) and not with an issuer renewal under the same root.
 * - Linkerd: the identity issuer (`linkerd-identity-issuer` tls.crt) chains to a root in
 *   `linkerd-identity-trust-roots` ca-bundle.crt and in its own ca.crt; the control plane's
 *   `linkerd.io/trust-root-sha256` follows the bundle.
 * - Neither root's private key is in any rendered object.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withSpecDefaults } from '../api/defaults.ts';
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import { authoritySettings } from '../controllers/certificate-authority.ts';
import { createSelfSignedAuthority, materialOf, renewIssuer, type AuthorityState } from '../pki/authority.ts';
import { promoteNewRoot, publishOverlap, stageNewRoot, switchIssuerToNewRoot } from '../pki/rotation-state.ts';
import { findIssuer, splitCertificates } from '../pki/x509.ts';
import type { KubeObject } from '../runtime/kube.ts';
import type { MeshDistribution } from './distribution.ts';
import { TRUST_ANCHORS_ANNOTATION } from './istio/istiod.ts';
import { istioDistribution } from './istio/index.ts';
import { linkerdDistribution } from './linkerd/index.ts';

const NOW = Date.parse('2026-11-27T12:00:00Z');
const HOUR = 3_600_000;

function installation(mesh: 'istio' | 'linkerd'): DefaultedMeshInstallation {
  const spec = mesh === 'istio' ? { mesh, version: '1.31.1', namespace: 'istio-system' } : { mesh, version: 'edge-26.8.3', namespace: 'linkerd' };
  return { apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: mesh }, spec: withSpecDefaults(spec as never) } as DefaultedMeshInstallation;
}

/** The CA states of one rotation, in order, named by phase. */
async function rotationStates(distribution: MeshDistribution, mi: DefaultedMeshInstallation): Promise<Array<[string, AuthorityState]>> {
  const settings = authoritySettings(mi, distribution.certificateAuthority!(mi));
  const single = await createSelfSignedAuthority(settings, NOW);
  const overlap = publishOverlap(await stageNewRoot(single, settings, NOW + HOUR));
  const switched = await switchIssuerToNewRoot(overlap, settings, NOW + 2 * HOUR);
  return [['single root', single], ['overlap', overlap], ['issuer switched', switched], ['new root alone', promoteNewRoot(switched)]];
}

const text = (object: KubeObject | undefined, key: string) => {
  const data = (object as { data?: Record<string, string> } | undefined)?.data?.[key];
  assert.ok(data !== undefined, `${object?.kind} ${object?.metadata.name} has ${key}`);
  return object!.kind === 'Secret' ? Buffer.from(data, 'base64').toString('utf8') : data;
};
const find = (objects: readonly KubeObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

/** The root (of `roots`) that signed the last certificate of `chain`. */
function signingRoot(chain: string, roots: string): string | undefined {
  return findIssuer(splitCertificates(chain).at(-1)!, splitCertificates(roots));
}

function assertNoRootKey(objects: readonly KubeObject[], states: ReadonlyArray<[string, AuthorityState]>, phase: string): void {
  const rendered = JSON.stringify(objects);
  const decoded = objects.flatMap((o) => Object.values((o as { data?: Record<string, string> }).data ?? {}).map((v) => Buffer.from(v, 'base64').toString('utf8'))).join('\n');
  for (const [, state] of states) {
    for (const root of [state.root, state.nextRoot]) {
      if (!root) continue;
      // From the end of the key: its start is the same for every key of an algorithm (the PKCS#8 header).
      const body = root.privateKeyPem.replace(/-----[A-Z ]+-----|\s/g, '').slice(-120, -60);
      assert.ok(!rendered.includes(body) && !decoded.replace(/\s/g, '').includes(body), `${phase}: no root key in the render`);
    }
  }
}

test('Istio cacerts through a root rotation: every root-cert.pem change is one istiod accepts, the issuer always chains to a published root, istiod restarts with each new bundle', async () => {
  const mi = installation('istio');
  const states = await rotationStates(istioDistribution, mi);
  let previousRoots: string | undefined;
  let previousAnnotation: string | undefined;
  const resolved = istioDistribution.resolve(mi);
  for (const [phase, state] of states) {
    const objects = istioDistribution.render({ installation: mi, resolved, ca: materialOf(state) });
    const cacerts = find(objects, 'Secret', 'cacerts');
    const roots = text(cacerts, 'root-cert.pem');
    const issuer = text(cacerts, 'ca-cert.pem');
    const chain = text(cacerts, 'cert-chain.pem');
    assert.ok(chain.startsWith(issuer), `${phase}: cert-chain.pem starts with the issuer`);
    const root = signingRoot(issuer, roots);
    assert.ok(root, `${phase}: ca-cert.pem is signed by a root in root-cert.pem`);
    assert.equal(splitCertificates(chain).at(-1)!.replace(/\s/g, ''), root.replace(/\s/g, ''), `${phase}: cert-chain.pem ends in the issuer's root`);
    if (previousRoots !== undefined) {
      assert.notEqual(roots, previousRoots, `${phase}: root-cert.pem changed`);
      assert.ok(roots.includes(previousRoots) || previousRoots.includes(roots), `${phase}: istiod's rule — the new root-cert.pem contains the old one or the reverse`);
    }
    const annotation = (find(objects, 'Deployment', 'istiod')!.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations[TRUST_ANCHORS_ANNOTATION];
    assert.ok(annotation, `${phase}: istiod carries the anchors' hash`);
    assert.notEqual(annotation, previousAnnotation, `${phase}: istiod restarts onto the new anchors`);
    assertNoRootKey(objects, states, phase);
    previousRoots = roots;
    previousAnnotation = annotation;
  }
  // An issuer renewed under the same root changes cacerts but not istiod's pod template.
  const [, single] = states[0]!;
  const settings = authoritySettings(mi, istioDistribution.certificateAuthority!(mi));
  const renewed = await renewIssuer(single, settings, NOW + HOUR);
  const annotationOf = (state: AuthorityState) => {
    const objects = istioDistribution.render({ installation: mi, resolved, ca: materialOf(state) });
    return (find(objects, 'Deployment', 'istiod')!.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations[TRUST_ANCHORS_ANNOTATION];
  };
  assert.equal(annotationOf(renewed), annotationOf(single), 'an issuer renewal leaves istiod running');
});

test('Linkerd trust roots and identity issuer through a root rotation: the issuer always chains to a root in the bundle, the control plane follows the bundle', async () => {
  const mi = installation('linkerd');
  const states = await rotationStates(linkerdDistribution, mi);
  const resolved = linkerdDistribution.resolve(mi);
  let previousHash: string | undefined;
  for (const [phase, state] of states) {
    const objects = linkerdDistribution.render({ installation: mi, resolved, ca: materialOf(state) });
    const bundle = text(find(objects, 'ConfigMap', 'linkerd-identity-trust-roots'), 'ca-bundle.crt');
    const issuerSecret = find(objects, 'Secret', 'linkerd-identity-issuer');
    const issuer = text(issuerSecret, 'tls.crt');
    assert.equal(splitCertificates(bundle).length, splitCertificates(state.trustAnchorsPem).length, `${phase}: ca-bundle.crt holds the anchors`);
    assert.ok(signingRoot(issuer, bundle), `${phase}: the issuer is signed by a root in ca-bundle.crt`);
    assert.ok(signingRoot(issuer, text(issuerSecret, 'ca.crt')), `${phase}: and in the issuer Secret's ca.crt`);
    const identity = find(objects, 'Deployment', 'linkerd-identity')!;
    const hash = (identity.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations['linkerd.io/trust-root-sha256'];
    assert.ok(hash && hash !== previousHash, `${phase}: identity's trust-root-sha256 follows the bundle (it restarts onto it)`);
    assertNoRootKey(objects, states, phase);
    previousHash = hash;
  }
  const lastBundle = text(find(linkerdDistribution.render({ installation: mi, resolved, ca: materialOf(states.at(-1)![1]) }), 'ConfigMap', 'linkerd-identity-trust-roots'), 'ca-bundle.crt');
  assert.equal(splitCertificates(lastBundle).length, 1, 'the old root is gone at the end');
});
