/**
 * What the data-plane rollout e2e tests share: the injection harness's operator process (the test
 * mesh with its cacerts CA and its small injector, authenticated as its own ServiceAccount, serving
 * the webhook the API server calls), one installation whose CA is External (so a test changes the
 * trust anchors by editing the user's Secret), and workloads in the harness's enrolled namespace
 * whose pods go through that webhook — so a restarted workload's new pods carry the new record.
 *
 * Workloads roll one pod at a time (maxSurge 0, maxUnavailable 1: each restart really takes a pod
 * away, which is what the unavailability bound is about) and become Ready after a kwok delay
 * (`meshwright.dev/kwok-ready-delay-ms`, e2e/cluster/stages/pod.yaml).
 */
import assert from 'node:assert/strict';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { INJECTED_BY_LABEL, RECORD_ANNOTATIONS, trustBundleSha256 } from '../../operator/distributions/injection.ts';
import { createSelfSigned, issueCertificate, type CertificateWithKey } from '../../operator/pki/x509.ts';
import { RESTART_OPT_OUT_ANNOTATION, RESTART_OPT_OUT_VALUE, RESTARTED_FOR_ANNOTATION } from '../../operator/rollout/annotations.ts';
import { Informer } from '../../operator/runtime/informer.ts';
import type { KubeObject, TypeRef } from '../../operator/runtime/kube.ts';
import { InjectionHarness, type RunningOperator } from '../injection/harness.ts';
import { auditEvents, auditLogPath, type AuditEvent } from '../support/audit.ts';
import { eventually } from '../support/kube.ts';
import { TEST_PROXY_CONTAINER } from '../support/test-distribution.ts';
import { podAvailable, WORKLOAD_LABEL } from './unavailability.ts';

/** The installation type. */
export const miType: TypeRef = { apiVersion: API_VERSION, kind: KIND };
const secretType: TypeRef = { apiVersion: 'v1', kind: 'Secret' };
const podType: TypeRef = { apiVersion: 'v1', kind: 'Pod' };

/** Workload kinds by their API resource, as the audit log names them. */
export const KIND_OF_RESOURCE: Record<string, WorkloadKind> = { deployments: 'Deployment', statefulsets: 'StatefulSet', daemonsets: 'DaemonSet' };
/** A kind a rollout restarts. */
export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';

/** status.dataPlane.rollout as the tests read it. */
export interface RolloutStatus {
  target: string;
  phase: string;
  progress: string;
  workloads: { total: number; current: number; outdated: number; restarting: number; skipped: number; failed: number };
  batch?: { number: number; workloads: string[]; startedAt: string };
  lastBatchCompletedAt?: string;
  failures?: Array<{ workload: string; reason: string; message: string }>;
  skipped?: string[];
  barePods?: string[];
  message: string;
}

/** A condition. */
export type Condition = { type: string; status: string; reason: string; message: string };
type Installation = KubeObject & { status?: { conditions?: Condition[]; dataPlane?: { outdatedPods?: number; injectedPods?: number; rollout?: RolloutStatus } } };

/** One workload the test created. */
export interface TestWorkload {
  kind: WorkloadKind;
  name: string;
  /** Pods it runs when settled (a DaemonSet: one per node). */
  replicas: number;
  /** "<Kind> <namespace>/<name>", as status names it. */
  id: string;
  /** `<namespace>/<name>`, as the sampler keys it. */
  key: string;
}

/** How a workload is made. */
export interface WorkloadOptions {
  replicas?: number;
  /** kwok readiness delay of its pods (ms). */
  readyDelayMs?: number;
  /** Opted out of restarts (workload annotation). */
  optOut?: boolean;
  /** Its pods crash-loop once it has been restarted (kwok's pod-crash-loop stage). */
  crashOnceRestarted?: boolean;
  /** kwok readiness delay of its pods once it has been restarted (ms). */
  readyDelayOnceRestartedMs?: number;
}

/** Settings of the installation's restarts. */
export interface RestartSettings {
  enabled?: boolean;
  maxUnavailable: string | number;
  batchInterval: string;
  progressDeadline: string;
  /** More of the installation's spec (e.g. its version, spec.upgrade fields), over what the world sets. */
  spec?: Record<string, unknown>;
  /** Environment of the operator process (e.g. MESHWRIGHT_E2E_CRASHING_PROXY). */
  operatorEnv?: Record<string, string>;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

/**
 * Follows the API server's audit log from its end: each {@link AuditFollower.next} parses only
 * what was appended since (a test polling every few milliseconds must not reread the whole log).
 */
export class AuditFollower {
  private readonly fd = openSync(auditLogPath(), 'r');
  private offset = fstatSync(this.fd).size;
  private partial = '';

  /** Audit events appended since the last call. */
  next(): AuditEvent[] {
    const size = fstatSync(this.fd).size;
    if (size <= this.offset) return [];
    const buffer = Buffer.alloc(size - this.offset);
    readSync(this.fd, buffer, 0, buffer.length, this.offset);
    this.offset = size;
    const lines = (this.partial + buffer.toString('utf8')).split('\n');
    this.partial = lines.pop() ?? '';
    return lines.filter((line) => line).map((line) => JSON.parse(line) as AuditEvent);
  }

  /** Closes the file. */
  close(): void {
    closeSync(this.fd);
  }
}

/** A batch as status showed it first, and when (epoch ms) the watch delivered it. */
export interface SeenBatch {
  number: number;
  workloads: string[];
  seenAt: number;
}

/** Records every batch status.dataPlane.rollout names, from a watch of the installation. */
export class BatchRecorder {
  private readonly informer: Informer;
  readonly batches = new Map<number, SeenBatch>();
  /** Phases in the order they were seen (consecutive repeats folded). */
  readonly phases: string[] = [];

  constructor(world: RolloutWorld) {
    this.informer = new Informer({ client: world.admin, type: miType, fieldSelector: `metadata.name=${world.name}` });
    this.informer.on((_type, object) => {
      const rollout = (object as Installation).status?.dataPlane?.rollout;
      if (!rollout) return;
      if (this.phases.at(-1) !== rollout.phase) this.phases.push(rollout.phase);
      const batch = rollout.batch;
      if (batch && !this.batches.has(batch.number)) this.batches.set(batch.number, { number: batch.number, workloads: [...batch.workloads], seenAt: Date.now() });
    });
  }

  /** Starts watching. */
  start(): Promise<void> {
    return this.informer.start();
  }

  /** Stops watching. */
  stop(): Promise<void> {
    return this.informer.stop();
  }
}

/** One rollout test file's world: see the module comment. */
export class RolloutWorld {
  readonly harness = new InjectionHarness({ withCa: true });
  readonly admin = this.harness.admin;
  readonly name = this.harness.name;
  /** Where the workloads live (enrolled: the webhook injects its pods). */
  readonly apps = this.harness.enrolled;
  readonly workloads: TestWorkload[] = [];
  operator!: RunningOperator;
  /** The bare pod as created (injected, no controller). */
  bare!: KubeObject;
  private readonly caSecret = `rollout-ca-${this.harness.run}`;
  private root!: CertificateWithKey;
  private anchors = '';

  constructor(private readonly settings: RestartSettings) {}

  /** Starts the operator, installs the mesh with the restart settings, waits for a pod to be injected (the bare pod `bare`). */
  async setUp(): Promise<void> {
    await this.harness.setUp();
    const now = Date.now();
    this.root = await createSelfSigned({ subject: 'CN=rollout root', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 5000 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true });
    const issuer = await issueCertificate({ subject: 'CN=rollout issuer', notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 4000 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true, pathLength: 0 }, this.root);
    this.anchors = this.root.certificatePem;
    await this.admin.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: this.caSecret, namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'ca.crt': b64(this.anchors), 'tls.crt': b64(issuer.certificatePem), 'tls.key': b64(issuer.privateKeyPem) } } as KubeObject);
    this.operator = await this.harness.startOperator(this.settings.operatorEnv);
    const { enabled = true, maxUnavailable, batchInterval, progressDeadline, spec = {} } = this.settings;
    await this.harness.install({
      certificateAuthority: { type: 'External', secretRef: { name: this.caSecret, namespace: 'default' } },
      injection: { restartWorkloads: { enabled, maxUnavailable, batchInterval } },
      ...spec,
      upgrade: { progressDeadline, ...(spec.upgrade as Record<string, unknown> | undefined) },
    });
    // The API server takes up a new webhook configuration within about a second: a pod created
    // before that is not injected, so try until one is (that one stays, as the bare pod).
    await eventually('a bare pod injected through the API server', async () => {
      const created = await this.admin.create({
        apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bare', namespace: this.apps },
        spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
      } as KubeObject).catch(() => undefined);
      if (!created) return false;
      if (InjectionHarness.injected(created)) {
        this.bare = created;
        return true;
      }
      await this.admin.delete(podType, 'bare', this.apps);
      await eventually('the uninjected attempt gone', async () => !(await this.admin.get(podType, 'bare', this.apps).catch(() => undefined)), 30_000, 100);
      return false;
    }, 60_000, 300);
  }

  /** Creates a workload in the enrolled namespace. */
  async workload(kind: WorkloadKind, name: string, options: WorkloadOptions = {}): Promise<TestWorkload> {
    const { replicas = 2, readyDelayMs = 1000, optOut = false, crashOnceRestarted = false, readyDelayOnceRestartedMs } = options;
    const labels = { app: name, [WORKLOAD_LABEL]: name };
    const template = {
      metadata: {
        labels,
        annotations: {
          'meshwright.dev/kwok-ready-delay-ms': String(readyDelayMs),
          ...(crashOnceRestarted ? { 'meshwright.dev/kwok-crash-loop-once-restarted': 'true' } : {}),
          ...(readyDelayOnceRestartedMs !== undefined ? { 'meshwright.dev/kwok-ready-delay-ms-once-restarted': String(readyDelayOnceRestartedMs) } : {}),
        },
      },
      spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
    };
    const metadata = { name, namespace: this.apps, labels: { app: name }, ...(optOut ? { annotations: { [RESTART_OPT_OUT_ANNOTATION]: RESTART_OPT_OUT_VALUE } } : {}) };
    const selector = { matchLabels: labels };
    let spec: Record<string, unknown>;
    if (kind === 'Deployment') spec = { replicas, selector, template, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } } };
    else if (kind === 'StatefulSet') spec = { replicas, selector, template, serviceName: name, podManagementPolicy: 'Parallel', updateStrategy: { type: 'RollingUpdate' } };
    else spec = { selector, template, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } } };
    await this.admin.create({ apiVersion: 'apps/v1', kind, metadata, spec } as KubeObject);
    const pods = kind === 'DaemonSet' ? (await this.admin.list({ apiVersion: 'v1', kind: 'Node' })).items.length : replicas;
    const workload = { kind, name, replicas: pods, id: `${kind} ${this.apps}/${name}`, key: `${this.apps}/${name}` };
    this.workloads.push(workload);
    return workload;
  }

  /** `<namespace>/<name>` → replicas of every workload, for the sampler. */
  desired(): Map<string, number> {
    return new Map(this.workloads.map((w) => [w.key, w.replicas]));
  }

  /** The pods of `workload` (not terminating). */
  async pods(workload: TestWorkload): Promise<KubeObject[]> {
    const { items } = await this.admin.list(podType, { namespace: this.apps, labelSelector: `${WORKLOAD_LABEL}=${workload.name}` });
    return items.filter((p) => !p.metadata.deletionTimestamp);
  }

  /** Waits until every workload runs its replicas, all injected and Ready. */
  async settled(timeoutMs = 90_000): Promise<void> {
    await eventually('every workload\'s pods injected and Ready', async () => {
      for (const workload of this.workloads) {
        const pods = await this.pods(workload);
        if (pods.length !== workload.replicas || !pods.every((p) => podAvailable(p) && InjectionHarness.injected(p))) return false;
      }
      return true;
    }, timeoutMs, 250);
  }

  /** The installation as read now. */
  async installation(): Promise<Installation> {
    return this.admin.get<Installation>(miType, this.name);
  }

  /** status.dataPlane.rollout and DataPlaneReady once `check` holds, failing with the last seen. */
  async rolloutWhen(description: string, check: (rollout: RolloutStatus | undefined, condition: Condition | undefined) => boolean, timeoutMs = 60_000): Promise<{ rollout: RolloutStatus; condition: Condition }> {
    return eventually(description, async () => {
      const mi = await this.installation();
      const condition = mi.status?.conditions?.find((c) => c.type === 'DataPlaneReady');
      const rollout = mi.status?.dataPlane?.rollout;
      return check(rollout, condition) ? { rollout: rollout!, condition: condition! } : undefined;
    }, timeoutMs, 100).catch(async (error: Error) => {
      const mi = await this.installation();
      throw new Error(`${error.message}; rollout: ${JSON.stringify(mi.status?.dataPlane?.rollout)}; DataPlaneReady: ${JSON.stringify(mi.status?.conditions?.find((c) => c.type === 'DataPlaneReady'))}`);
    });
  }

  /** Adds a second root to the user's CA Secret (a rotation's overlap): every injected pod's trust bundle is outdated. */
  async rotateTrustAnchors(): Promise<void> {
    const now = Date.now();
    const next = await createSelfSigned({ subject: `CN=rollout root ${now}`, notBefore: new Date(now - 3_600_000), notAfter: new Date(now + 5000 * 3_600_000), keyAlgorithm: 'ECDSAP256', isCA: true });
    this.anchors += next.certificatePem;
    await this.admin.patch(secretType, this.caSecret, 'default', { data: { 'ca.crt': b64(this.anchors) } }, 'merge');
  }

  /** SHA-256 of the trust anchors as the mesh publishes them now (the test mesh's cacerts Secret). */
  async publishedHash(): Promise<string> {
    const secret = await this.admin.get<KubeObject & { data: Record<string, string> }>(secretType, 'cacerts', this.harness.meshNamespace);
    return trustBundleSha256(Buffer.from(secret.data['root-cert.pem']!, 'base64').toString('utf8'));
  }

  /** Reconcile passes the running operator process has finished (its /metrics). */
  async reconciles(): Promise<number> {
    return InjectionHarness.counter(await this.operator.metrics(), 'meshwright_reconcile_total');
  }

  /**
   * Waits until the operator has finished `passes` more passes than now and at least `minMs` have
   * gone by: what a negative assertion ("nothing more was written") waits for, so it is judged
   * after the operator looked again, not after a guess. Meanwhile an injected pod comes and goes
   * (a change of the data plane the operator watches), so passes run even if nothing else moves.
   */
  async operatorLookedAgain(passes: number, minMs: number): Promise<void> {
    const start = Date.now();
    const from = await this.reconciles();
    let nudge: string | undefined;
    await eventually(`${passes} more passes and ${minMs} ms`, async () => {
      if (await this.reconciles() >= from + passes && Date.now() - start >= minMs) return true;
      if (nudge) {
        await this.admin.delete(podType, nudge, this.apps).catch(() => undefined);
        nudge = undefined;
      } else {
        nudge = (await this.admin.create({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'nudge-', namespace: this.apps }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] } } as unknown as KubeObject)).metadata.name;
      }
      return false;
    }, 60_000, 300);
    if (nudge) await this.admin.delete(podType, nudge, this.apps).catch(() => undefined);
  }

  /** Whether an audit event is a successful write by the operator's ServiceAccount to one of the workloads (not its status). */
  isWorkloadWrite(e: AuditEvent): boolean {
    return e.user?.username === this.harness.username && ['patch', 'update', 'create', 'delete'].includes(e.verb)
      && e.objectRef?.apiGroup === 'apps' && e.objectRef.resource !== undefined && e.objectRef.resource in KIND_OF_RESOURCE
      && e.objectRef.namespace === this.apps && !e.objectRef.subresource && (e.responseStatus?.code ?? 0) < 300;
  }

  /**
   * Writes by the operator's ServiceAccount to the workloads (not their status) since `since`,
   * from the API server's audit log: "<Kind> <namespace>/<name>" → the times (epoch ms) of each.
   */
  workloadWrites(since: Date): Map<string, number[]> {
    const writes = new Map<string, number[]>();
    const events = auditEvents(since, (e) => this.isWorkloadWrite(e));
    for (const event of events) {
      const id = `${KIND_OF_RESOURCE[event.objectRef!.resource!]} ${event.objectRef!.namespace}/${event.objectRef!.name}`;
      writes.set(id, [...(writes.get(id) ?? []), Date.parse(event.stageTimestamp)]);
    }
    return writes;
  }

  /** The workload's live object. */
  async live(workload: TestWorkload): Promise<KubeObject & { spec: { template: { metadata: { annotations?: Record<string, string> } } } }> {
    return this.admin.get({ apiVersion: 'apps/v1', kind: workload.kind }, workload.name, this.apps);
  }

  /** The target a workload's template was restarted for, if any. */
  async restartedFor(workload: TestWorkload): Promise<string | undefined> {
    return (await this.live(workload)).spec.template.metadata.annotations?.[RESTARTED_FOR_ANNOTATION];
  }

  /** Asserts every pod of `workload` carries the test proxy and the trust-bundle hash `hash` (or, with `not`, another one). */
  async assertPodsRecord(workload: TestWorkload, hash: string, not = false): Promise<void> {
    const pods = await this.pods(workload);
    assert.equal(pods.length, workload.replicas, `${workload.id}: ${workload.replicas} pods`);
    for (const pod of pods) {
      assert.ok((pod.spec as { containers: Array<{ name: string }> }).containers.some((c) => c.name === TEST_PROXY_CONTAINER), `${pod.metadata.name} carries the proxy`);
      assert.equal(pod.metadata.labels?.[INJECTED_BY_LABEL], this.name);
      const recorded = pod.metadata.annotations?.[RECORD_ANNOTATIONS.trustBundleSha256];
      if (not) assert.notEqual(recorded, hash, `${pod.metadata.name} still records the old bundle`);
      else assert.equal(recorded, hash, `${pod.metadata.name} records the current bundle`);
    }
  }

  /** Events about the installation with `reason` (events.k8s.io/v1 in `default`, where a cluster-scoped object's Events go). */
  async events(reason: string): Promise<Array<KubeObject & { type?: string; note?: string; reason?: string }>> {
    const { items } = await this.admin.list<KubeObject & { reason?: string; type?: string; note?: string; regarding?: { name?: string } }>({ apiVersion: 'events.k8s.io/v1', kind: 'Event' }, { namespace: 'default' });
    return items.filter((e) => e.regarding?.name === this.name && e.reason === reason);
  }

  /** Stops the operator(s) and removes everything. */
  async tearDown(): Promise<void> {
    await this.admin.delete(secretType, this.caSecret, 'default').catch(() => undefined);
    await this.harness.tearDown();
  }
}
