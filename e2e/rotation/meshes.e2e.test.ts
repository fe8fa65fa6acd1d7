/**
 * Root rotation on the real meshes' layouts (issue #17, points 2 and 7): Istio 1.31.1 and Linkerd
 * edge-26.8.3 as the operator renders them (control planes run by kwok), each with two injected
 * Deployments. A bumped trigger rotates the root while a sampler reads every 100 ms each pod's
 * recorded bundle and the live issuer where the mesh reads them — Istio's `cacerts` (root-cert.pem,
 * ca-cert.pem), Linkerd's `linkerd-identity-trust-roots` (ca-bundle.crt) and
 * `linkerd-identity-issuer` (tls.crt) — and fails on any instant where a pod's bundle lacks the
 * issuer's root. The control plane follows: istiod's pod template carries the hash of the bundle
 * it loads, Linkerd's control plane `linkerd.io/trust-root-sha256`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { TRUST_ANCHORS_ANNOTATION } from '../../operator/distributions/istio/istiod.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { eventually } from '../support/kube.ts';
import { MeshInjectionWorld } from '../meshes/injection.ts';
import { assertNoKeysLeaked, assertRotation, cacertsSource, TrustSampler, type RotationRecord, type TrustSource } from './support.ts';

const miType = { apiVersion: API_VERSION, kind: KIND };
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
type Template = KubeObject & { spec: { template: { metadata: { annotations?: Record<string, string> } } } };

interface MeshCase {
  mesh: 'istio' | 'linkerd';
  version: string;
  proxy: string;
  enrolment: { key: string; value: string };
  source(world: MeshInjectionWorld, name: string, apps: string, cp: string): TrustSource;
  /** Asserts the control plane runs on the final bundle. */
  controlPlaneFollows(world: MeshInjectionWorld, cp: string, bundle: string): Promise<void>;
}

const CASES: MeshCase[] = [
  {
    mesh: 'istio', version: '1.31.1', proxy: 'istio-proxy', enrolment: { key: 'istio-injection', value: 'enabled' },
    source: (world, name, apps, cp) => cacertsSource(world.admin, name, apps, cp),
    async controlPlaneFollows(world, cp, bundle) {
      const istiod = await world.admin.get<Template>({ apiVersion: 'apps/v1', kind: 'Deployment' }, 'istiod', cp);
      assert.equal(istiod.spec.template.metadata.annotations?.[TRUST_ANCHORS_ANNOTATION], sha256(bundle), 'istiod restarted onto the final bundle');
    },
  },
  {
    mesh: 'linkerd', version: 'edge-26.8.3', proxy: 'linkerd-proxy', enrolment: { key: 'linkerd.io/inject', value: 'enabled' },
    source: (world, name, apps, cp) => ({
      admin: world.admin, installation: name, podNamespace: apps, meshNamespace: cp, keySecrets: ['linkerd-identity-issuer', 'meshwright-ca'],
      async published() {
        const [roots, issuer] = await Promise.all([
          world.admin.get<KubeObject & { data: Record<string, string> }>({ apiVersion: 'v1', kind: 'ConfigMap' }, 'linkerd-identity-trust-roots', cp),
          world.admin.get<KubeObject & { data: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret' }, 'linkerd-identity-issuer', cp),
        ]);
        return { bundle: roots.data['ca-bundle.crt']!, issuer: Buffer.from(issuer.data['tls.crt']!, 'base64').toString('utf8') };
      },
    }),
    async controlPlaneFollows(world, cp, bundle) {
      const identity = await world.admin.get<Template>({ apiVersion: 'apps/v1', kind: 'Deployment' }, 'linkerd-identity', cp);
      // Linkerd hashes the anchors as the CA holds them; the ConfigMap has them trimmed, as Linkerd writes it.
      const state = await world.admin.get<KubeObject & { data: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret' }, 'meshwright-ca', cp);
      const anchors = Buffer.from(state.data['trust-anchors.crt']!, 'base64').toString('utf8');
      assert.equal(anchors.trim(), bundle.trim(), 'the CA state holds the bundle the mesh publishes');
      assert.equal(identity.spec.template.metadata.annotations?.['linkerd.io/trust-root-sha256'], sha256(anchors), 'identity restarted onto the final bundle');
    },
  },
];

for (const c of CASES) {
  describe(`root rotation on ${c.mesh}'s layout`, () => {
    const world = new MeshInjectionWorld();
    const name = `rot-${c.mesh}-${world.run}`;
    const cp = `rot-${c.mesh}-cp-${world.run}`;
    const apps = `rot-${c.mesh}-apps-${world.run}`;

    before(async () => {
      await world.start();
      await world.namespace(apps);
      await world.install(name, {
        mesh: c.mesh, version: c.version, namespace: cp,
        certificateAuthority: { rootRotation: { automatic: false, trigger: '1' } },
        injection: { namespaces: [apps], restartWorkloads: { enabled: true, maxUnavailable: 2, batchInterval: '0s' } },
      });
      await world.enrolled(apps, c.enrolment, name);
      await world.warmUp(apps, c.proxy);
      await world.deployment(apps, 'web', 2);
      await world.deployment(apps, 'api', 2);
    });

    after(() => world.tearDown());

    test('a bumped trigger rotates the root with no instant of a pod lacking the live issuer\'s root (sampled every 100 ms); the control plane follows; no private key leaks', async (t) => {
      const source = c.source(world, name, apps, cp);
      const sampler = new TrustSampler(source);
      await sampler.start();
      await world.admin.patch(miType, name, undefined, { spec: { certificateAuthority: { rootRotation: { trigger: '2' } } } }, 'merge');
      await eventually('the rotation completed for trigger 2', async () => {
        const rotation = (await world.admin.get<KubeObject & { status?: { certificateAuthority?: { rotation?: RotationRecord } } }>(miType, name)).status?.certificateAuthority?.rotation;
        return rotation?.phase === 'Idle' && rotation.lastTrigger === '2' && rotation.completedAt !== undefined;
      }, 240_000, 200);
      const report = await sampler.stop();
      t.diagnostic(`${report.samples.length} samples, max gap ${report.maxGapMs} ms`);
      assertRotation(report);
      const { bundle } = await source.published();
      await c.controlPlaneFollows(world, cp, bundle);
      await world.ready(name);
      await assertNoKeysLeaked(source, report, [world.operator!.logFile]);
    });
  });
}
