/**
 * Root rotation on the real meshes' layouts (issue #17, points 2 and 7), registered by
 * e2e/meshes/istio.e2e.test.ts and linkerd.e2e.test.ts: Istio 1.31.1 and Linkerd
 * edge-26.8.3 as the operator renders them (control planes run by kwok), each with two injected
 * Deployments, the root living an hour. Per mesh, one after another (one installation of a mesh at
 * a time): a bumped trigger rotates the root; then an automatic rotation (rootRotation.renewBefore
 * set so the root falls due 10 s later, started by the operator's timed pass) with the operator
 * SIGKILLed as each phase is recorded and a new process started each time; then, on an External CA
 * (the user's Secret, cert-manager's layout), a new root and issuer in the user's Secret taken with
 * the overlap. Throughout each, a sampler reads every 100 ms each pod's recorded bundle and the live
 * issuer where the mesh reads them — Istio's `cacerts` (root-cert.pem, ca-cert.pem), Linkerd's
 * `linkerd-identity-trust-roots` (ca-bundle.crt) and `linkerd-identity-issuer` (tls.crt) — and
 * fails on any instant where a pod's bundle lacks the issuer's root. The control plane follows:
 * istiod's pod template carries the hash of the bundle it loads, Linkerd's control plane
 * `linkerd.io/trust-root-sha256`. No private key reaches status, Events or any operator log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { TRUST_ANCHORS_ANNOTATION } from '../../operator/distributions/istio/istiod.ts';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { eventually } from '../support/kube.ts';
import type { MeshInjectionWorld } from '../meshes/injection.ts';
import { splitCertificates } from '../../operator/pki/x509.ts';
import { RestartableMeshWorld } from './mesh-world.ts';
import { assertEveryPhaseOnce, assertKilledInEveryPhase, assertNoKeysLeaked, assertRotation, cacertsSource, killInEveryPhase, RotationPhases, rotationWhen, TrustSampler, userCa, type RotationRecord, type TrustSource } from './support.ts';

const miType = { apiVersion: API_VERSION, kind: KIND };
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
type Secret = KubeObject & { data: Record<string, string> };
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

/** Events of `reason` about installation `name` (cluster-scoped: they are in default). */
async function events(world: MeshInjectionWorld, name: string, reason: string): Promise<Array<KubeObject & { note?: string }>> {
  const { items } = await world.admin.list<KubeObject & { reason?: string; note?: string; regarding?: { name?: string } }>({ apiVersion: 'events.k8s.io/v1', kind: 'Event' }, { namespace: 'default' });
  return items.filter((e) => e.regarding?.name === name && e.reason === reason);
}

/**
 * Registers the rotation scenarios on `mesh`'s layout. They install the mesh, whose cluster-scoped
 * objects (CRDs, webhook configurations) allow one installation at a time: registered at the end of
 * e2e/meshes/<mesh>.e2e.test.ts, after that file's other scenarios, never beside them.
 */
export function describeRootRotationOnMesh(mesh: MeshCase['mesh']): void {
  const c = CASES.find((candidate) => candidate.mesh === mesh)!;
  describe(`root rotation on ${c.mesh}'s layout`, () => {
    const world = new RestartableMeshWorld();
    const name = `rot-${c.mesh}-${world.run}`;
    const cp = `rot-${c.mesh}-cp-${world.run}`;
    const apps = `rot-${c.mesh}-apps-${world.run}`;
    const restartWorkloads = { enabled: true, maxUnavailable: 2, batchInterval: '0s' };
    const rotating = { admin: world.admin, name };

    before(async () => {
      await world.start();
      await world.namespace(apps);
      await world.install(name, {
        mesh: c.mesh, version: c.version, namespace: cp,
        certificateAuthority: { rootTTL: '1h', intermediateTTL: '30m', renewBefore: '5m', rootRotation: { automatic: false, trigger: '1', renewBefore: '1m' } },
        injection: { namespaces: [apps], restartWorkloads },
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

    test('automatic: the root falling due (renewBefore) starts a rotation by the timed pass, no trigger; SIGKILLed as each phase is recorded, a new process resumes it: every phase once, one new root, no trust gap at any 100 ms sample, no key leaked', async (t) => {
      const idle = await rotationWhen(rotating, 'Idle after trigger 2', (r) => r?.phase === 'Idle' && r.lastTrigger === '2' && r.completedAt !== undefined);
      const previous = idle.status!.certificateAuthority!;
      const state = await world.admin.get<Secret>({ apiVersion: 'v1', kind: 'Secret' }, 'meshwright-ca', cp);
      const notAfter = Date.parse(new X509Certificate(Buffer.from(state.data['root.crt']!, 'base64').toString('utf8')).validTo);
      // The root (rootTTL 1h) falls due 10 s from now: not when this spec change is reconciled, but at a time the operator must wake up for.
      const renewBeforeS = Math.floor((notAfter - Date.now()) / 1000) - 10;
      const dueAt = notAfter - renewBeforeS * 1000;
      const source = c.source(world, name, apps, cp);
      const firstLog = world.operator!.logFile;
      const killed = killInEveryPhase(rotating, { kill: () => world.kill(), restart: async () => world.startProcess() });
      await killed.phases.start();
      const sampler = new TrustSampler(source);
      await sampler.start();
      await world.admin.patch(miType, name, undefined, { spec: { certificateAuthority: { rootRotation: { automatic: true, renewBefore: `${renewBeforeS}s` } } } }, 'merge');
      // The new root lives an hour too, under the same renewBefore: it falls due again about a minute
      // after it is made, which can be before this rotation ends on a loaded machine. Once this one
      // has started, automatic goes off (it only decides whether an idle installation starts one).
      await rotationWhen(rotating, 'the automatic rotation started', (r) => r?.phase !== 'Idle' || r.completedAt !== previous.rotation?.completedAt, 60_000);
      await world.admin.patch(miType, name, undefined, { spec: { certificateAuthority: { rootRotation: { automatic: false } } } }, 'merge');
      const done = await rotationWhen(rotating, 'the automatic rotation completed', (r) => r?.phase === 'Idle' && r.completedAt !== undefined && r.completedAt !== previous.rotation?.completedAt, 240_000);
      await killed.settled();
      const report = await sampler.stop();
      await killed.phases.stop();
      const startedAt = killed.phases.seenAt[killed.phases.phases.indexOf('ExtendingTrustBundle')]!;
      t.diagnostic(`started ${startedAt - dueAt} ms after falling due; killed in ${killed.killedIn.join(', ')}; ${report.samples.length} samples, max gap ${report.maxGapMs} ms`);

      assert.ok(startedAt >= dueAt - 1000, `started by itself once due (due ${new Date(dueAt).toISOString()}, started ${new Date(startedAt).toISOString()}), not by the spec change`);
      assertKilledInEveryPhase(killed);
      // assertRotation checks that the CA state held the old root and exactly one new one across all the processes.
      assertRotation(report);
      assert.equal(done.status?.certificateAuthority?.rotation?.lastTrigger, '2', 'no trigger involved');
      assert.notEqual(done.status?.certificateAuthority?.rootFingerprint, previous.rootFingerprint, 'status shows the new root');
      const started = await events(world, name, 'RootRotationStarted');
      assert.ok(started.filter((e) => /within rootRotation\.renewBefore/.test(e.note ?? '')).length <= 1, 'started once (a killed process may not have sent the Event)');
      const { bundle } = await source.published();
      await c.controlPlaneFollows(world, cp, bundle);
      await world.ready(name);
      await assertNoKeysLeaked(source, report, [firstLog, ...killed.logs]);
    });

    test('External: a new root and issuer in the user\'s Secret are taken with the overlap, never a hard switch: every phase in order, no trust gap at any 100 ms sample, ending on the user\'s root and issuer; the control plane follows; no key leaked', async (t) => {
      // One installation of a mesh at a time: the SelfSigned one goes first.
      await world.remove(name);
      const ext = `rot-${c.mesh}-x-${world.run}`;
      const extCp = `rot-${c.mesh}-xcp-${world.run}`;
      const extApps = await world.namespace(`rot-${c.mesh}-xapps-${world.run}`);
      const issuerName = c.mesh === 'linkerd' ? `identity.${extCp}.cluster.local` : undefined;
      const first = await userCa('user', issuerName);
      const secret = 'user-ca';
      await world.admin.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: secret, namespace: extApps }, type: 'kubernetes.io/tls', data: first.data } as KubeObject);
      await world.install(ext, { mesh: c.mesh, version: c.version, namespace: extCp, certificateAuthority: { type: 'External', secretRef: { name: secret, namespace: extApps } }, injection: { namespaces: [extApps], restartWorkloads } });
      await world.enrolled(extApps, c.enrolment, ext);
      await world.warmUp(extApps, c.proxy);
      await world.deployment(extApps, 'web', 2);
      await world.deployment(extApps, 'api', 2);
      await rotationWhen({ admin: world.admin, name: ext }, 'Idle', (r) => r?.phase === 'Idle');

      const source = c.source(world, ext, extApps, extCp);
      const phases = new RotationPhases({ admin: world.admin, name: ext });
      await phases.start();
      const sampler = new TrustSampler(source);
      await sampler.start();
      const next = await userCa('new user', issuerName);
      await world.admin.patch({ apiVersion: 'v1', kind: 'Secret' }, secret, extApps, { data: next.data }, 'merge');
      await rotationWhen({ admin: world.admin, name: ext }, 'the External rotation completed', (r) => r?.phase === 'Idle' && r.completedAt !== undefined, 240_000);
      const report = await sampler.stop();
      await phases.stop();
      t.diagnostic(`${report.samples.length} samples, max gap ${report.maxGapMs} ms; phases ${phases.phases.join(' -> ')}`);

      assertEveryPhaseOnce(phases);
      assertRotation(report, { selfSigned: false });
      const started = await events(world, ext, 'RootRotationStarted');
      assert.equal(started.length, 1);
      assert.match(started[0]!.note ?? '', /External Secret holds a new root/);
      const published = await source.published();
      assert.equal(published.bundle.trim(), next.rootPem.trim(), 'the user\'s new root alone is published');
      assert.equal(splitCertificates(published.issuer)[0]!.trim(), next.issuerPem.trim(), 'the user\'s new issuer signs');
      await c.controlPlaneFollows(world, extCp, published.bundle);
      await world.ready(ext);
      await assertNoKeysLeaked(source, { ...report, keys: [...report.keys, ...first.keys, ...next.keys] }, world.logs);
    });
  });
}
