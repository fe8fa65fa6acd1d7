/**
 * Linkerd on the local cluster, one scenario after another (they share cluster-scoped objects):
 * examples/linkerd-minimal.yaml end to end (see mesh-install.ts), then every other Linkerd example
 * and every spec behind a Linkerd golden render reconciled to Ready with a pass that writes nothing
 * (see no-op.ts), then an issuer Secret the user keeps (see external-issuer.ts), then the safety of
 * installations from each other (see safety.ts), then sidecar injection through the operator's
 * webhook on the real mesh (see injection.ts), then InPlace upgrades with injected workloads from
 * stable 2.19 to the next stable 2.20, on to an edge (a downgrade refused there) and to a later
 * edge, and one more edge on which a workload crash-loops, rolled back (see upgrade.ts); then root
 * rotations on the mesh's layout — triggered, automatic with the operator killed in every phase, an
 * External root change (see ../rotation/meshes.ts).
 */
import { createSelfSigned, issueCertificate } from '../../operator/pki/x509.ts';
import type { KubeClient, KubeObject } from '../../operator/runtime/kube.ts';
import { LINKERD_GOLDEN_SPECS } from '../../operator/distributions/linkerd/testdata/golden-specs.ts';
import { describeExternalIssuerScenarios } from './external-issuer.ts';
import { describeInjection } from './injection.ts';
import { describeMeshExample } from './mesh-install.ts';
import { describeNoOpPasses, exampleSpec, type NoOpCase } from './no-op.ts';
import { describeSafety } from './safety.ts';
import { LINKERD_UPGRADES } from './upgrade-releases.ts';
import { describeInPlaceUpgrades } from './upgrade.ts';
import { describeRootRotationOnMesh } from '../rotation/meshes.ts';

describeMeshExample({ file: 'linkerd-minimal.yaml', drift: { deployment: 'linkerd-destination', service: 'linkerd-dst' } });

/** The Secret examples/external-ca.yaml names, as cert-manager would write it: ECDSA root and issuer. */
async function externalIssuerSecret(admin: KubeClient): Promise<KubeObject[]> {
  const spec = exampleSpec('external-ca.yaml');
  const ref = spec.certificateAuthority!.secretRef!;
  const now = Date.now();
  const root = await createSelfSigned({ subject: 'CN=root.linkerd.cluster.local', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 365 * 24 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true });
  const issuer = await issueCertificate({ subject: 'CN=identity.linkerd.cluster.local', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 90 * 24 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true, pathLength: 0 }, root);
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const namespace: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ref.namespace } };
  const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: ref.name, namespace: ref.namespace }, type: 'kubernetes.io/tls', data: { 'ca.crt': b64(root.certificatePem), 'tls.crt': b64(issuer.certificatePem), 'tls.key': b64(issuer.privateKeyPem) } } as KubeObject;
  await admin.apply(namespace, { force: true, manager: 'meshwright-e2e' });
  await admin.apply(secret, { force: true, manager: 'meshwright-e2e' });
  return [secret];
}

const cases: NoOpCase[] = [
  { title: 'examples/external-ca.yaml', spec: exampleSpec('external-ca.yaml'), prepare: externalIssuerSecret },
  ...Object.entries(LINKERD_GOLDEN_SPECS).map(([name, spec]) => ({ title: `golden ${name}`, spec: { mesh: 'linkerd' as const, version: 'edge-26.8.3', namespace: 'linkerd', ...spec } })),
];

describeNoOpPasses('Linkerd: every example and golden spec is Ready and then at rest', cases);

describeExternalIssuerScenarios();

describeSafety('linkerd');

describeInjection('linkerd');

describeInPlaceUpgrades(LINKERD_UPGRADES);

describeRootRotationOnMesh('linkerd');
