/**
 * Sidecar injection on the real meshes (issue 14, point 9): the operator runs as `meshwright run`
 * authenticated as its own ServiceAccount (the shipped RBAC), serving the injection webhook on a
 * free local port that the API server calls by URL; a MeshInstallation of the real Istio or Linkerd
 * enrols a namespace through `spec.injection`; Deployments are created there and elsewhere, the
 * kube-controller-manager makes their pods through the API server (so through the webhook) and
 * kwok runs them. The tests then read the pods as the API server stored them.
 *
 * Registered by each mesh's sequential suite (installations of one mesh share cluster-scoped
 * objects). Everything is waited for on the installation's status, the Deployments' status or the
 * pods themselves; what the tests create is removed, the installations first (their webhooks fail
 * closed).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HttpMethod } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { ENROLLED_BY_ANNOTATION } from '../../operator/controllers/meshinstallation/enrolment.ts';
import { INJECTED_BY_LABEL, RECORD_ANNOTATIONS, trustBundleSha256 } from '../../operator/distributions/injection.ts';
import { KubeClient, type KubeObject } from '../../operator/runtime/kube.ts';
import { freePort } from '../cluster/local-cluster.ts';
import { removeInstallationAndWorkloads } from '../support/installation-removal.ts';
import { eventually, getIfExists, testKubeConfig } from '../support/kube.ts';
import { startOperatorWithOwnAccount, type OperatorProcess } from '../support/operator-account.ts';

/** A container as the tests read it. */
export type Container = { name: string; image?: string; restartPolicy?: string; command?: string[]; env?: Array<{ name: string; value?: string }> };
/** A pod as the tests read it. */
export type Pod = KubeObject & { spec: { containers: Container[]; initContainers?: Container[] }; status?: { phase?: string } };
type Condition = { type: string; status: string; reason: string; message: string };
type DataPlane = { enrolledNamespaces: number; injectedPods: number; outdatedPods: number; proxyVersions?: Record<string, number>; rollout?: { target: string; phase: string; progress: string; workloads: { total: number; current: number } } };

/** status.dataPlane without its rollout (judged on its own where it matters: operator/rollout/). */
function counts(dataPlane: DataPlane): Omit<DataPlane, 'rollout'> {
  const { rollout: _rollout, ...rest } = dataPlane;
  return rest;
}
type Installation = KubeObject & { status?: { observedGeneration?: number; conditions?: Condition[]; dataPlane?: DataPlane } };

const miType = { apiVersion: API_VERSION, kind: KIND };
const nsType = { apiVersion: 'v1', kind: 'Namespace' };
const podType = { apiVersion: 'v1', kind: 'Pod' };
const deploymentType = { apiVersion: 'apps/v1', kind: 'Deployment' };
const mutatingType = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration' };

/** The container named `name`, as a regular container or as a native sidecar (restartable init container). */
export function proxyContainer(pod: Pod, name: string): { container: Container; native: boolean } | undefined {
  const regular = pod.spec.containers.find((c) => c.name === name);
  if (regular) return { container: regular, native: false };
  const native = pod.spec.initContainers?.find((c) => c.name === name && c.restartPolicy === 'Always');
  return native ? { container: native, native: true } : undefined;
}

const envOf = (container: Container, name: string) => container.env?.find((e) => e.name === name)?.value;

/** What one mesh's scenarios share: the operator process, an admin client, namespaces and Deployments (also the real-mesh upgrades', upgrade.ts). */
export class MeshInjectionWorld {
  readonly run = randomBytes(3).toString('hex');
  readonly kc = testKubeConfig();
  readonly admin = new KubeClient(this.kc, 'meshwright-e2e-admin');
  readonly selector = { 'meshwright.dev/e2e-injection': this.run };
  operator?: OperatorProcess;
  private cleanupAccount: () => Promise<void> = async () => undefined;
  private readonly namespaces: string[] = [];
  private readonly installations: Array<{ name: string; namespace: string }> = [];

  async start(): Promise<void> {
    const port = await freePort();
    const started = await startOperatorWithOwnAccount(this.admin, this.kc, this.run, (account) => [
      `--installation-selector=meshwright.dev/e2e-injection=${this.run}`, '--leader-elect=true', `--leader-election-namespace=${account.namespace}`, `--identity=e2e-inj-${this.run}`,
      '--metrics-address=127.0.0.1:0', '--log-level=info', `--webhook-port=${port}`, `--webhook-url=https://127.0.0.1:${port}`,
    ]);
    this.operator = started.operator;
    this.cleanupAccount = started.cleanup;
  }

  /** Creates a namespace with `labels` (removed at the end). */
  async namespace(name: string, labels: Record<string, string> = {}): Promise<string> {
    await this.admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
    this.namespaces.push(name);
    return name;
  }

  /** Creates installation `name` (removed at the end, or by {@link remove}) and waits until it is Ready at its generation. */
  async install(name: string, spec: Record<string, unknown>): Promise<Installation> {
    this.installations.push({ name, namespace: spec.namespace as string });
    await this.admin.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: this.selector }, spec });
    return this.ready(name);
  }

  /** Waits until installation `name` has condition `type` True at its generation. */
  async ready(name: string, type = 'Ready'): Promise<Installation> {
    return eventually(`${name} ${type}`, async () => {
      const mi = await this.admin.get<Installation>(miType, name);
      const ready = mi.status?.conditions?.find((c) => c.type === type);
      return ready?.status === 'True' && mi.status?.observedGeneration === mi.metadata.generation ? mi : undefined;
    }, 180_000, 250).catch(async (error: Error) => {
      const mi = await this.admin.get<Installation>(miType, name);
      throw new Error(`${error.message}\nconditions: ${JSON.stringify(mi.status?.conditions)}\noperator log: ${this.operator?.logFile}`);
    });
  }

  /** Deletes installation `name` (its webhooks first, by its finalizer) and waits until it and its control plane's pods are gone. */
  async remove(name: string): Promise<void> {
    const index = this.installations.findIndex((i) => i.name === name);
    const [installation] = this.installations.splice(index, 1);
    await removeInstallationAndWorkloads(this.admin, name, installation!.namespace);
  }

  /** Waits until the namespace carries `label` set by the operator (its enrolled-by annotation naming `installation`). */
  async enrolled(namespace: string, label: { key: string; value: string }, installation: string): Promise<KubeObject> {
    return eventually(`${namespace} enrolled with ${label.key}=${label.value}`, async () => {
      const ns = await this.admin.get(nsType, namespace);
      return ns.metadata.labels?.[label.key] === label.value && ns.metadata.annotations?.[ENROLLED_BY_ANNOTATION] === installation ? ns : undefined;
    }, 30_000, 100);
  }

  /** Waits until a configuration's webhooks all carry a caBundle. */
  async webhookConfiguration(name: string): Promise<KubeObject> {
    return eventually(`MutatingWebhookConfiguration ${name} with a caBundle`, async () => {
      const configuration = await getIfExists(this.admin, mutatingType, name);
      const webhooks = (configuration?.webhooks ?? []) as Array<{ clientConfig: { caBundle?: string } }>;
      return webhooks.length > 0 && webhooks.every((w) => w.clientConfig.caBundle) ? configuration : undefined;
    }, 30_000, 100);
  }

  /**
   * Dry-run pod creates in `namespace` until the API server's answer carries `proxy`: the API server
   * picks a new webhook configuration up within about a second, and pods created before that would
   * pass unmutated. A dry run goes through admission (the webhooks have no side effects) and stores nothing.
   */
  async warmUp(namespace: string, proxy: string, image?: RegExp): Promise<void> {
    await eventually(`a dry-run pod in ${namespace} injected with ${proxy}${image ? ` ${image}` : ''}`, async () => {
      const pod = await this.admin.request<Pod>(HttpMethod.POST, `/api/v1/namespaces/${namespace}/pods?dryRun=All`, {
        apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'warm-up-', namespace }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
      });
      const found = proxyContainer(pod, proxy);
      return found !== undefined && (!image || image.test(found.container.image ?? ''));
    }, 30_000, 200);
  }

  /**
   * Creates Deployment `name` in `namespace` (`replicas` pods labelled app=<name> plus `labels`,
   * annotated with `annotations`) and waits until all its pods are available (kwok runs them); returns them.
   */
  async deployment(namespace: string, name: string, replicas: number, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): Promise<Pod[]> {
    await this.admin.create({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace },
      spec: {
        replicas, selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name, ...labels }, annotations }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1', ports: [{ containerPort: 8080 }] }] } },
      },
    } as KubeObject);
    return this.available(namespace, name, replicas);
  }

  /** Waits until Deployment `name` is rolled out: `replicas` pods, all updated, available and running; returns them. */
  async available(namespace: string, name: string, replicas: number): Promise<Pod[]> {
    return eventually(`Deployment ${namespace}/${name} with ${replicas} available pods`, async () => {
      const deployment = await this.admin.get<KubeObject & { status?: { observedGeneration?: number; replicas?: number; availableReplicas?: number; updatedReplicas?: number } }>(deploymentType, name, namespace);
      const status = deployment.status ?? {};
      if ((status.observedGeneration ?? 0) < (deployment.metadata.generation ?? 0) || status.replicas !== replicas || status.updatedReplicas !== replicas || status.availableReplicas !== replicas) return undefined;
      const pods = (await this.admin.list<Pod>(podType, { namespace, labelSelector: `app=${name}` })).items.filter((p) => !p.metadata.deletionTimestamp);
      return pods.length === replicas && pods.every((p) => p.status?.phase === 'Running') ? pods : undefined;
    }, 60_000, 200).catch(async (error: Error) => {
      const events = await this.admin.list<KubeObject & { reason?: string; message?: string }>({ apiVersion: 'v1', kind: 'Event' }, { namespace });
      throw new Error(`${error.message}\nevents in ${namespace}: ${events.items.map((e) => `${e.reason}: ${e.message}`).slice(-5).join(' | ')}\noperator log: ${this.operator?.logFile}`);
    });
  }

  /** Scales Deployment `name` and waits for the pods. */
  async scale(namespace: string, name: string, replicas: number): Promise<Pod[]> {
    await this.admin.patch(deploymentType, name, namespace, { spec: { replicas } }, 'merge');
    return this.available(namespace, name, replicas);
  }

  /** Restarts Deployment `name` as `kubectl rollout restart` does (a pod-template annotation) and waits for the new pods. */
  async restart(namespace: string, name: string, replicas: number): Promise<Pod[]> {
    await this.admin.patch(deploymentType, name, namespace, { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } }, 'merge');
    return this.available(namespace, name, replicas);
  }

  /** Pods labelled as injected by `installation`, in every namespace, not on their way out. */
  async injectedPods(installation: string): Promise<Pod[]> {
    return (await this.admin.list<Pod>(podType, { labelSelector: `${INJECTED_BY_LABEL}=${installation}` })).items.filter((p) => !p.metadata.deletionTimestamp);
  }

  /** The installation once `check` holds for its data plane and DataPlaneReady, failing with the last ones seen. */
  async dataPlaneWhen(name: string, description: string, check: (dataPlane: DataPlane | undefined, condition: Condition | undefined) => boolean): Promise<{ dataPlane: DataPlane; condition: Condition }> {
    const read = async () => {
      const mi = await this.admin.get<Installation>(miType, name);
      return { dataPlane: mi.status?.dataPlane, condition: mi.status?.conditions?.find((c) => c.type === 'DataPlaneReady') };
    };
    return eventually(description, async () => {
      const { dataPlane, condition } = await read();
      return check(dataPlane, condition) ? { dataPlane: dataPlane!, condition: condition! } : undefined;
    }, 30_000, 100).catch(async (error: Error) => {
      const { dataPlane, condition } = await read();
      throw new Error(`${error.message}; status.dataPlane: ${JSON.stringify(dataPlane)}; DataPlaneReady: ${JSON.stringify(condition)}`);
    });
  }

  /** Stops the operator, removes the installations (webhooks first), the namespaces and the account. */
  async tearDown(): Promise<void> {
    const ignore = () => undefined;
    // While the operator runs, its finalizer removes the webhooks before anything else.
    for (const { name, namespace } of [...this.installations]) await removeInstallationAndWorkloads(this.admin, name, namespace).catch(ignore);
    await this.operator?.stop();
    for (const { name } of this.installations) {
      await this.admin.patch(miType, name, undefined, { metadata: { finalizers: null } }, 'merge').catch(ignore);
      await this.admin.delete(miType, name).catch(ignore);
    }
    for (const ns of this.namespaces) await this.admin.delete(nsType, ns).catch(ignore);
    await this.cleanupAccount().catch(ignore);
    await this.admin.close();
  }

  /** The operator's log, for failure messages. */
  log(): string {
    return this.operator ? readFileSync(this.operator.logFile, 'utf8') : '';
  }
}

/** Asserts that none of `pods` was touched by injection: only the app container, no record. */
function assertUntouched(pods: readonly Pod[], what: string): void {
  assert.ok(pods.length > 0, `${what}: there are pods to look at`);
  for (const pod of pods) {
    assert.deepEqual(pod.spec.containers.map((c) => c.name), ['app'], `${what}: ${pod.metadata.name} has only its own container`);
    assert.equal(pod.spec.initContainers, undefined, `${what}: ${pod.metadata.name} has no init container`);
    assert.equal(pod.metadata.labels?.[INJECTED_BY_LABEL], undefined, `${what}: ${pod.metadata.name} has no ${INJECTED_BY_LABEL} label`);
    for (const key of Object.values(RECORD_ANNOTATIONS)) assert.equal(pod.metadata.annotations?.[key], undefined, `${what}: ${pod.metadata.name} has no ${key}`);
  }
}

/** Asserts the record the operator writes on an injected pod. */
function assertRecord(pod: Pod, expected: { installation: string; mesh: string; revision: string; proxyVersion: string; trustBundleSha256: string }): void {
  const a = pod.metadata.annotations ?? {};
  assert.equal(pod.metadata.labels?.[INJECTED_BY_LABEL], expected.installation, `${pod.metadata.name}: ${INJECTED_BY_LABEL}`);
  assert.equal(a[RECORD_ANNOTATIONS.mesh], expected.mesh);
  assert.equal(a[RECORD_ANNOTATIONS.revision], expected.revision);
  assert.equal(a[RECORD_ANNOTATIONS.proxyVersion], expected.proxyVersion);
  assert.equal(a[RECORD_ANNOTATIONS.trustBundleSha256], expected.trustBundleSha256, `${pod.metadata.name}: the record's trust-bundle hash is that of the anchors the mesh publishes`);
}

/** `text` as a literal in a regular expression. */
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const decode = (value: string | undefined) => Buffer.from(value ?? '', 'base64').toString('utf8');

/** Istio's `sidecar.istio.io/status` of an injected pod. */
function istioStatus(pod: Pod): { containers: string[]; initContainers: string[] | null; revision: string } {
  const value = pod.metadata.annotations?.['sidecar.istio.io/status'];
  assert.ok(value, `${pod.metadata.name} carries sidecar.istio.io/status`);
  return JSON.parse(value) as { containers: string[]; initContainers: string[] | null; revision: string };
}

/**
 * Asserts an Istio proxy on `pod`: istio-proxy as a container with istio-init before it, or as a
 * native sidecar; the status annotation naming it and `revision`; CA and discovery at `istiod`.
 */
function assertIstioProxy(pod: Pod, revision: string, istiod: string, version: string): Container {
  const proxy = proxyContainer(pod, 'istio-proxy');
  assert.ok(proxy, `${pod.metadata.name} runs istio-proxy: ${JSON.stringify([pod.spec.initContainers?.map((c) => c.name), pod.spec.containers.map((c) => c.name)])}`);
  const status = istioStatus(pod);
  if (proxy.native) {
    assert.ok(status.initContainers?.includes('istio-proxy'), 'the status annotation lists the native sidecar among the init containers');
  } else {
    assert.ok(pod.spec.initContainers?.some((c) => c.name === 'istio-init'), `${pod.metadata.name} has istio-init`);
    assert.ok(status.containers.includes('istio-proxy') && status.initContainers?.includes('istio-init'), `status annotation: ${JSON.stringify(status)}`);
  }
  assert.ok(pod.spec.containers.some((c) => c.name === 'app'), 'the app container is kept');
  assert.equal(status.revision, revision, 'sidecar.istio.io/status names the revision');
  assert.match(proxy.container.image ?? '', new RegExp(`/proxyv2:${escape(version)}$`));
  assert.equal(envOf(proxy.container, 'CA_ADDR'), `${istiod}:15012`, 'certificates from that revision\'s istiod');
  const proxyConfig = JSON.parse(envOf(proxy.container, 'PROXY_CONFIG') ?? '{}') as { discoveryAddress?: string };
  assert.equal(proxyConfig.discoveryAddress, `${istiod}:15012`, 'configuration from that revision\'s istiod');
  return proxy.container;
}

/**
 * {@link assertIstioProxy}, and the workload Istio names in the proxy's metadata: the Deployment
 * `deployment` in the pod's namespace, which the webhook derives from the pod's ReplicaSet owner
 * as upstream does (the pod has no name yet when it is admitted).
 */
function assertIstioProxyOfDeployment(pod: Pod, revision: string, istiod: string, version: string, deployment: string): void {
  const proxy = assertIstioProxy(pod, revision, istiod, version);
  assert.equal(envOf(proxy, 'ISTIO_META_WORKLOAD_NAME'), deployment);
  assert.equal(envOf(proxy, 'ISTIO_META_OWNER'), `kubernetes://apis/apps/v1/namespaces/${pod.metadata.namespace}/deployments/${deployment}`);
  assert.equal(pod.metadata.labels?.['service.istio.io/canonical-name'], deployment, 'canonical name from the app label');
}

/** Registers the injection scenarios of `mesh` (see the module comment). */
export function describeInjection(mesh: 'istio' | 'linkerd'): void {
  const world = new MeshInjectionWorld();
  const { run, admin } = world;

  describe(`${mesh}: sidecar injection on the real mesh, through the operator's webhook`, () => {
    before(() => world.start());
    after(() => world.tearDown());

    if (mesh === 'istio') describeIstio(world, run, admin);
    else describeLinkerd(world, run, admin);
  });
}

function describeIstio(world: MeshInjectionWorld, run: string, admin: KubeClient): void {
  const version = '1.31.1';
  /** The InPlace installation starts one patch behind, and is upgraded to {@link version} in the end. */
  const older = '1.31.0';
  const name = `inj-istio-${run}`;
  const cp = `inj-istio-cp-${run}`;
  const ns = {
    app: `inj-istio-app-${run}`, plain: `inj-istio-plain-${run}`,
    disabled: `inj-istio-disabled-${run}`, nsRev: `inj-istio-nsrev-${run}`, otherRev: `inj-istio-otherrev-${run}`, podRev: `inj-istio-podrev-${run}`,
  };
  const istiod = `istiod.${cp}.svc`;
  let trustHash = '';

  describe('InPlace: the default revision', () => {
    before(async () => {
      // Created before the installation, so every cache (API server's, operator's) knows them when pods come.
      await world.namespace(ns.app);
      await world.namespace(ns.plain);
      await world.namespace(ns.disabled, { 'istio.io/rev': 'default', 'istio-injection': 'disabled' });
      await world.namespace(ns.nsRev, { 'istio.io/rev': 'default' });
      await world.namespace(ns.otherRev, { 'istio.io/rev': `no-such-rev-${run}` });
      await world.namespace(ns.podRev);
    });

    test('enrolled through spec.injection: a Deployment\'s pods run istio-proxy of revision default (istiod of the installation, the Deployment as workload) and the record, whose trust-bundle hash is that of cacerts root-cert.pem', async () => {
      // Restarts off: this scenario looks at the data plane before and after a restart of its own (the rollout's are e2e/rollout/).
      await world.install(name, { mesh: 'istio', version: older, namespace: cp, injection: { namespaces: [ns.app], restartWorkloads: { enabled: false } } });
      await world.enrolled(ns.app, { key: 'istio-injection', value: 'enabled' }, name);
      await world.webhookConfiguration(`istio-sidecar-injector-${cp}`);
      await world.warmUp(ns.app, 'istio-proxy');
      const cacerts = await admin.get<KubeObject & { data: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret' }, 'cacerts', cp);
      trustHash = trustBundleSha256(decode(cacerts.data['root-cert.pem']));
      const pods = await world.deployment(ns.app, 'web', 2);
      for (const pod of pods) {
        assertIstioProxyOfDeployment(pod, 'default', istiod, older, 'web');
        assertRecord(pod, { installation: name, mesh: 'istio', revision: 'default', proxyVersion: older, trustBundleSha256: trustHash });
      }
    });

    test('a namespace nobody enrolled: a Deployment\'s pods are left untouched', async () => {
      const namespace = await admin.get(nsType, ns.plain);
      assert.equal(namespace.metadata.labels?.['istio-injection'], undefined);
      assertUntouched(await world.deployment(ns.plain, 'web', 2), ns.plain);
    });

    test('opt-out by pod in the enrolled namespace: label sidecar.istio.io/inject=false, or the annotation, leaves the pods untouched', async () => {
      assertUntouched(await world.deployment(ns.app, 'opted-out', 1, { 'sidecar.istio.io/inject': 'false' }), 'opted out by label');
      assertUntouched(await world.deployment(ns.app, 'opted-out-annotation', 1, {}, { 'sidecar.istio.io/inject': 'false' }), 'opted out by annotation');
    });

    test('opt-in by pod: label sidecar.istio.io/inject=true injects in a namespace that is not enrolled', async () => {
      const [pod] = await world.deployment(ns.podRev, 'opted-in', 1, { 'sidecar.istio.io/inject': 'true' });
      assertIstioProxyOfDeployment(pod!, 'default', istiod, older, 'opted-in');
    });

    test('precedence: istio-injection=disabled wins over the namespace\'s istio.io/rev; istio.io/rev=default alone injects', async () => {
      assertUntouched(await world.deployment(ns.disabled, 'web', 1), 'istio-injection=disabled with istio.io/rev=default');
      const [pod] = await world.deployment(ns.nsRev, 'web', 1);
      assertIstioProxy(pod!, 'default', istiod, older);
    });

    test('precedence: the namespace\'s revision wins over the pod\'s — a pod naming another revision in a default-revision namespace is injected, a pod naming default in another revision\'s namespace is not (the same pod alone is)', async () => {
      const [named] = await world.deployment(ns.nsRev, 'other-rev-pod', 1, { 'istio.io/rev': `no-such-rev-${run}` });
      assertIstioProxy(named!, 'default', istiod, older);
      assertUntouched(await world.deployment(ns.otherRev, 'default-rev-pod', 1, { 'istio.io/rev': 'default' }), 'pod istio.io/rev=default in a namespace of another revision');
      const [alone] = await world.deployment(ns.podRev, 'default-rev-pod', 1, { 'istio.io/rev': 'default' });
      assertIstioProxy(alone!, 'default', istiod, older);
    });

    test('status.dataPlane counts the injected pods (per proxy version) and the enrolled namespace, and follows a scale-up; DataPlaneReady=True ProxiesCurrent', async () => {
      // web (2) in the enrolled namespace, web and other-rev-pod in the default-revision one, default-rev-pod and opted-in alone.
      const injected = await world.injectedPods(name);
      assert.equal(injected.length, 6, injected.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(', '));
      const first = await world.dataPlaneWhen(name, '6 injected pods', (d) => d?.injectedPods === 6);
      assert.deepEqual(counts(first.dataPlane), { enrolledNamespaces: 1, injectedPods: 6, outdatedPods: 0, proxyVersions: { [older]: 6 } });
      assert.equal(first.dataPlane.rollout?.phase, 'Complete');
      assert.equal(first.dataPlane.rollout.workloads.current, first.dataPlane.rollout.workloads.total, 'every workload current');
      assert.equal(first.condition.status, 'True');
      assert.equal(first.condition.reason, 'ProxiesCurrent');
      assert.match(first.condition.message, new RegExp(`^6 pods in 1 enrolled namespace run proxy ${escape(older)} with the current trust bundle`));

      await world.scale(ns.app, 'web', 4);
      assert.equal((await world.injectedPods(name)).length, 8);
      const scaled = await world.dataPlaneWhen(name, '8 injected pods', (d) => d?.injectedPods === 8);
      assert.deepEqual(scaled.dataPlane.proxyVersions, { [older]: 8 });
      assert.equal(scaled.dataPlane.outdatedPods, 0);
      assert.equal(scaled.condition.reason, 'ProxiesCurrent');
    });

    test(`a version bump (${older} → ${version}) with restarts disabled: the pods keep their proxy and are counted outdated (DataPlaneReady=False RestartsDisabled); a Deployment restarted by hand gets the new proxy and is current`, async () => {
      await admin.patch(miType, name, undefined, { spec: { version } }, 'merge');
      // Not Ready: that waits for the data plane, whose proxies are now outdated.
      await world.ready(name, 'ControlPlaneReady');
      const outdated = await world.dataPlaneWhen(name, 'all 8 pods outdated', (d, c) => d?.outdatedPods === 8 && c?.reason === 'RestartsDisabled');
      assert.deepEqual(counts(outdated.dataPlane), { enrolledNamespaces: 1, injectedPods: 8, outdatedPods: 8, proxyVersions: { [older]: 8 } });
      assert.equal(outdated.dataPlane.rollout?.phase, 'Disabled');
      assert.equal(outdated.condition.status, 'False');
      assert.match(outdated.condition.message, /^8 pods run an outdated proxy and restarts are disabled/);

      // The webhook serves the installation as its operator's cache has it: wait until new pods get the new proxy.
      await world.warmUp(ns.app, 'istio-proxy', new RegExp(`/proxyv2:${escape(version)}$`));
      const pods = await world.restart(ns.app, 'web', 4);
      for (const pod of pods) {
        assertIstioProxyOfDeployment(pod, 'default', istiod, version, 'web');
        assertRecord(pod, { installation: name, mesh: 'istio', revision: 'default', proxyVersion: version, trustBundleSha256: trustHash });
      }
      const after = await world.dataPlaneWhen(name, '4 of 8 pods outdated', (d) => d?.injectedPods === 8 && d.outdatedPods === 4);
      assert.deepEqual(after.dataPlane.proxyVersions, { [older]: 4, [version]: 4 });
      assert.equal(after.condition.reason, 'RestartsDisabled');
    });

    test('deleting the installation removes its webhook configuration and unenrols the namespace; pods created afterwards are untouched', async () => {
      await world.remove(name);
      assert.equal(await getIfExists(admin, mutatingType, `istio-sidecar-injector-${cp}`), undefined);
      const namespace = await admin.get(nsType, ns.app);
      assert.equal(namespace.metadata.labels?.['istio-injection'], undefined);
      assert.equal(namespace.metadata.annotations?.[ENROLLED_BY_ANNOTATION], undefined);
      // The API server may still hold the deleted configuration for a moment: its pods are refused, not injected, then.
      await eventually('a pod created untouched after the deletion', async () => {
        const pod = await admin.request<Pod>(HttpMethod.POST, `/api/v1/namespaces/${ns.nsRev}/pods?dryRun=All`, {
          apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'after-', namespace: ns.nsRev }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
        });
        return proxyContainer(pod, 'istio-proxy') === undefined;
      }, 15_000, 200);
    });
  });

  describe('Canary: a revisioned control plane', () => {
    const canary = `inj-canary-${run}`;
    const canaryCp = `inj-canary-cp-${run}`;
    const canaryApp = `inj-canary-app-${run}`;
    const canaryTag = `inj-canary-tag-${run}`;
    const revision = version.replace(/\./g, '-');
    const canaryIstiod = `istiod-${revision}.${canaryCp}.svc`;

    before(async () => {
      await world.namespace(canaryApp);
      await world.namespace(canaryTag, { 'istio.io/rev': 'default' });
    });

    test(`the namespace is enrolled with istio.io/rev=${revision}; its pods get that revision's proxy: sidecar.istio.io/status and the record name the revision, CA and discovery point at istiod-${revision}`, async () => {
      await world.install(canary, { mesh: 'istio', version, namespace: canaryCp, upgrade: { strategy: 'Canary' }, injection: { namespaces: [canaryApp] } });
      await world.enrolled(canaryApp, { key: 'istio.io/rev', value: revision }, canary);
      await world.webhookConfiguration(`istio-sidecar-injector-${revision}-${canaryCp}`);
      await world.webhookConfiguration(`istio-revision-tag-default-${canaryCp}`);
      // The revision's istiod is what the proxies are pointed at.
      assert.ok(await getIfExists(admin, deploymentType, `istiod-${revision}`, canaryCp), `Deployment istiod-${revision}`);
      assert.ok(await getIfExists(admin, { apiVersion: 'v1', kind: 'Service' }, `istiod-${revision}`, canaryCp), `Service istiod-${revision}`);
      assert.equal(await getIfExists(admin, { apiVersion: 'v1', kind: 'Service' }, 'istiod', canaryCp), undefined, 'no unrevisioned istiod');
      await world.warmUp(canaryApp, 'istio-proxy');
      const cacerts = await admin.get<KubeObject & { data: Record<string, string> }>({ apiVersion: 'v1', kind: 'Secret' }, 'cacerts', canaryCp);
      const hash = trustBundleSha256(decode(cacerts.data['root-cert.pem']));
      const pods = await world.deployment(canaryApp, 'web', 2);
      for (const pod of pods) {
        assertIstioProxyOfDeployment(pod, revision, canaryIstiod, version, 'web');
        assertRecord(pod, { installation: canary, mesh: 'istio', revision, proxyVersion: version, trustBundleSha256: hash });
      }
    });

    test(`the revision tag default: a namespace labelled istio.io/rev=default gets proxies of revision ${revision}, pointing at istiod-${revision}`, async () => {
      const [pod] = await world.deployment(canaryTag, 'tagged', 1);
      assertIstioProxy(pod!, revision, canaryIstiod, version);
      assert.equal(pod!.metadata.annotations?.[RECORD_ANNOTATIONS.revision], revision);
    });

    test('status.dataPlane counts the pods of both namespaces and the one enrolled; DataPlaneReady=True ProxiesCurrent', async () => {
      assert.equal((await world.injectedPods(canary)).length, 3);
      const { dataPlane, condition } = await world.dataPlaneWhen(canary, '3 injected pods', (d) => d?.injectedPods === 3);
      assert.deepEqual(counts(dataPlane), { enrolledNamespaces: 1, injectedPods: 3, outdatedPods: 0, proxyVersions: { [version]: 3 } });
      assert.equal(dataPlane.rollout?.phase, 'Complete');
      assert.match(dataPlane.rollout.target, new RegExp(`^${escape(version)}-[0-9a-f]{12}@${revision}$`), 'a Canary target names the revision');
      assert.equal(condition.status, 'True');
      assert.equal(condition.reason, 'ProxiesCurrent');
      await world.remove(canary);
    });
  });
}

function describeLinkerd(world: MeshInjectionWorld, run: string, admin: KubeClient): void {
  const version = 'edge-26.8.3';
  const name = `inj-l5d-${run}`;
  const cp = `inj-l5d-cp-${run}`;
  const ns = { app: `inj-l5d-app-${run}`, plain: `inj-l5d-plain-${run}`, optIn: `inj-l5d-optin-${run}`, webhooksOff: `inj-l5d-off-${run}` };
  let bundle = '';

  /** Asserts Linkerd's proxy on `pod`, with Linkerd's own annotations and the trust anchors the mesh publishes. */
  function assertLinkerdProxy(pod: Pod, deployment: string): void {
    const proxy = proxyContainer(pod, 'linkerd-proxy');
    assert.ok(proxy, `${pod.metadata.name} runs linkerd-proxy: ${JSON.stringify([pod.spec.initContainers?.map((c) => c.name), pod.spec.containers.map((c) => c.name)])}`);
    // Without the CNI plugin linkerd-init sets the firewall up, before a native sidecar too.
    const inits = pod.spec.initContainers?.map((c) => c.name) ?? [];
    assert.ok(inits.includes('linkerd-init') && (!proxy.native || inits.indexOf('linkerd-init') < inits.indexOf('linkerd-proxy')), `${pod.metadata.name} has linkerd-init first: ${inits.join(',')}`);
    assert.ok(pod.spec.containers.some((c) => c.name === 'app'), 'the app container is kept');
    const a = pod.metadata.annotations ?? {};
    assert.equal(a['linkerd.io/proxy-version'], version);
    assert.match(proxy.container.image ?? '', new RegExp(`/proxy:${escape(version)}$`));
    assert.equal(a['linkerd.io/trust-root-sha256'], trustBundleSha256(bundle), 'linkerd.io/trust-root-sha256 is the SHA-256 of the published trust anchors');
    assert.equal(envOf(proxy.container, 'LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS')?.trim(), bundle.trim(), 'the proxy is given the published trust anchors');
    assertRecord(pod, { installation: name, mesh: 'linkerd', revision: 'default', proxyVersion: version, trustBundleSha256: trustBundleSha256(bundle) });
    // Linkerd's owner labels, from the pod's ReplicaSet owner (the pod has no name yet when admitted).
    assert.equal(pod.metadata.labels?.['linkerd.io/proxy-deployment'], deployment);
    assert.equal(pod.metadata.labels?.['linkerd.io/workload-ns'], pod.metadata.namespace);
    assert.equal(pod.metadata.labels?.['linkerd.io/control-plane-ns'], cp);
  }

  describe('linkerd.io/inject and the enrolment label', () => {
    before(async () => {
      await world.namespace(ns.app);
      await world.namespace(ns.plain);
      await world.namespace(ns.optIn);
      await world.namespace(ns.webhooksOff, { 'config.linkerd.io/admission-webhooks': 'disabled' });
    });

    test('enrolled through spec.injection: a Deployment\'s pods run linkerd-init and linkerd-proxy (owner labels naming the Deployment) with linkerd.io/proxy-version, linkerd.io/trust-root-sha256 and the record hashing the anchors of linkerd-identity-trust-roots', async () => {
      await world.install(name, { mesh: 'linkerd', version, namespace: cp, injection: { namespaces: [ns.app] } });
      await world.enrolled(ns.app, { key: 'linkerd.io/inject', value: 'enabled' }, name);
      await world.webhookConfiguration('linkerd-proxy-injector-webhook-config');
      const roots = await admin.get<KubeObject & { data: Record<string, string> }>({ apiVersion: 'v1', kind: 'ConfigMap' }, 'linkerd-identity-trust-roots', cp);
      bundle = roots.data['ca-bundle.crt'] ?? '';
      assert.match(bundle, /BEGIN CERTIFICATE/);
      await world.warmUp(ns.app, 'linkerd-proxy');
      const pods = await world.deployment(ns.app, 'web', 2);
      for (const pod of pods) assertLinkerdProxy(pod, 'web');
    });

    test('a namespace nobody enrolled: a Deployment\'s pods are left untouched', async () => {
      assert.equal((await admin.get(nsType, ns.plain)).metadata.labels?.['linkerd.io/inject'], undefined);
      assertUntouched(await world.deployment(ns.plain, 'web', 2), ns.plain);
    });

    test('opt-out by pod: annotation linkerd.io/inject=disabled in the enrolled namespace leaves the pods untouched', async () => {
      assertUntouched(await world.deployment(ns.app, 'opted-out', 1, {}, { 'linkerd.io/inject': 'disabled' }), 'opted out');
    });

    test('opt-in by pod: label linkerd.io/inject=enabled injects in a namespace that is not enrolled, but not in one labelled config.linkerd.io/admission-webhooks=disabled', async () => {
      const [pod] = await world.deployment(ns.optIn, 'opted-in', 1, { 'linkerd.io/inject': 'enabled' });
      assertLinkerdProxy(pod!, 'opted-in');
      assertUntouched(await world.deployment(ns.webhooksOff, 'opted-in', 1, { 'linkerd.io/inject': 'enabled' }), 'admission webhooks disabled');
    });

    test('status.dataPlane counts the injected pods (per proxy version) and the enrolled namespace, and follows a scale-down; DataPlaneReady=True ProxiesCurrent; the webhook configuration goes with the installation', async () => {
      const injected = await world.injectedPods(name);
      assert.equal(injected.length, 3, injected.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(', '));
      const first = await world.dataPlaneWhen(name, '3 injected pods', (d) => d?.injectedPods === 3);
      assert.deepEqual(counts(first.dataPlane), { enrolledNamespaces: 1, injectedPods: 3, outdatedPods: 0, proxyVersions: { [version]: 3 } });
      assert.equal(first.dataPlane.rollout?.phase, 'Complete');
      assert.equal(first.condition.status, 'True');
      assert.equal(first.condition.reason, 'ProxiesCurrent');
      assert.match(first.condition.message, new RegExp(`^3 pods in 1 enrolled namespace run proxy ${escape(version)} with the current trust bundle`));

      await world.scale(ns.app, 'web', 1);
      await eventually('the scaled-down pods gone', async () => (await world.injectedPods(name)).length === 2, 30_000, 200);
      const scaled = await world.dataPlaneWhen(name, '2 injected pods', (d) => d?.injectedPods === 2);
      assert.deepEqual(scaled.dataPlane.proxyVersions, { [version]: 2 });
      assert.equal(scaled.condition.reason, 'ProxiesCurrent');
      await world.remove(name);
      assert.equal(await getIfExists(admin, mutatingType, 'linkerd-proxy-injector-webhook-config'), undefined, 'the webhook configuration goes with the installation');
    });
  });
}
