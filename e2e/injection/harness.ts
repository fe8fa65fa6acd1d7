/**
 * What the injection e2e tests share: an operator process (e2e/injection/operator-process.ts) with
 * the test mesh's injector, authenticated as its own ServiceAccount with the RBAC generated for
 * that distribution, serving its webhook on a free local port that the API server calls by URL;
 * one MeshInstallation; an enrolled and a non-enrolled namespace; pods created and counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../cluster/local-cluster.ts';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { KubeApiError, KubeClient, type KubeObject } from '../../operator/runtime/kube.ts';
import { counterTotal, operatorServiceAccountKubeconfig } from '../support/operator-account.ts';
import { eventually, installMeshInstallationCrd, testKubeConfig } from '../support/kube.ts';
import { removeTestMesh, TEST_INJECT_LABEL, TEST_PROXY_CONTAINER, testDistributionWithCaAndInjector, testDistributionWithInjector, testInjectionWebhookName } from '../support/test-distribution.ts';


/** A running operator process. */
export interface RunningOperator {
  child: ChildProcess;
  logFile: string;
  metricsPort: number;
  /** Prometheus text of its /metrics. */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/** How a pod create ended. */
export type CreateResult = { created: KubeObject } | { refused: string };

type PodSpec = { containers: Array<{ name: string; image: string }> };

/** One test file's world: see the module comment. */
export class InjectionHarness {
  readonly run = randomBytes(3).toString('hex');
  readonly kc = testKubeConfig();
  readonly admin = new KubeClient(this.kc, 'meshwright-e2e-admin');
  readonly name = `inj-${this.run}`;
  readonly meshNamespace = `test-mesh-inj-${this.run}`;
  readonly enrolled = `inj-enrolled-${this.run}`;
  readonly plain = `inj-plain-${this.run}`;
  operatorNamespace = '';
  username = '';
  webhookPort = 0;
  private cleanupAccount?: () => Promise<void>;
  private readonly processes: RunningOperator[] = [];

  /** `withCa`: the test mesh with its cacerts CA too ({@link testDistributionWithCaAndInjector}). */
  constructor(private readonly options: { withCa?: boolean } = {}) {}

  /** The distribution the operator runs with. */
  get distribution() {
    return this.options.withCa ? testDistributionWithCaAndInjector : testDistributionWithInjector;
  }

  /** Installs the CRD, the operator's account and the two namespaces; picks the webhook port. */
  async setUp(): Promise<void> {
    await installMeshInstallationCrd(this.admin);
    const account = await operatorServiceAccountKubeconfig(this.admin, this.kc, this.run, [this.distribution]);
    this.operatorNamespace = account.namespace;
    this.username = account.username;
    this.cleanupAccount = account.cleanup;
    this.kubeconfig = account.kubeconfig;
    this.webhookPort = await freePort();
    await this.admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: this.enrolled, labels: { [TEST_INJECT_LABEL]: this.name } } });
    await this.admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: this.plain } });
  }

  private kubeconfig = '';

  /** Starts an operator process serving the webhook at https://127.0.0.1:<webhookPort>. */
  async startOperator(env: Record<string, string> = {}, extraArgs: string[] = []): Promise<RunningOperator> {
    const logFile = join(mkdtempSync(join(tmpdir(), 'meshwright-injection-')), 'operator.log');
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'operator-process.ts'),
      '--metrics-address=127.0.0.1:0', `--webhook-port=${this.webhookPort}`, `--webhook-url=https://127.0.0.1:${this.webhookPort}`,
      `--leader-election-namespace=${this.operatorNamespace}`, `--installation-selector=meshwright.dev/test-run=${this.run}`, '--log-level=info', ...extraArgs,
    ], { env: { ...process.env, KUBECONFIG: this.kubeconfig, ...(this.options.withCa ? { MESHWRIGHT_E2E_TEST_MESH: 'ca' } : {}), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(logFile);
    child.stderr!.pipe(log);
    const metricsPort = await new Promise<number>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        log.write(`${line}\n`);
        if (line.startsWith('{"port"')) resolve((JSON.parse(line) as { port: number }).port);
      });
      child.once('exit', (code) => reject(new Error(`the operator exited with ${code} before listening; see ${logFile}`)));
    });
    // A process that ends by itself (it lost its lease, or crashed) is said in the test's output:
    // nothing restarts it as the kubelet would, so what waits on it next times out without a word.
    let stopping = false;
    child.once('exit', (code, signal) => {
      if (stopping || signal === 'SIGKILL') return;
      process.stderr.write(`[harness] the operator process ${child.pid} ended by itself (code ${code}, signal ${signal}); its log: ${logFile}\n`);
    });
    const running: RunningOperator = {
      child, logFile, metricsPort,
      metrics: async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
      stop: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        stopping = true;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      },
    };
    this.processes.push(running);
    return running;
  }

  /** Creates the installation (the test mesh, version 1.1.0, with `spec` over that) and waits until its webhook configuration carries a caBundle. */
  async install(spec: Record<string, unknown> = {}): Promise<KubeObject> {
    await this.admin.create({
      apiVersion: API_VERSION, kind: KIND, metadata: { name: this.name, labels: { 'meshwright.dev/test-run': this.run } },
      spec: { mesh: 'istio', version: '1.1.0', namespace: this.meshNamespace, ...spec },
    });
    return eventually('the webhook configuration with a caBundle', async () => {
      const configuration = await this.webhookConfiguration();
      return configuration && this.caBundleOf(configuration) ? configuration : undefined;
    }, 60_000);
  }

  /** The installation's MutatingWebhookConfiguration, if it exists. */
  async webhookConfiguration(): Promise<KubeObject | undefined> {
    return this.admin.get({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration' }, testInjectionWebhookName(this.name)).catch(() => undefined);
  }

  /** The decoded caBundle of its first webhook. */
  caBundleOf(configuration: KubeObject): string {
    const webhooks = configuration.webhooks as Array<{ clientConfig: { caBundle?: string } }>;
    return Buffer.from(webhooks[0]?.clientConfig.caBundle ?? '', 'base64').toString('utf8');
  }

  /** The webhook CA Secret in the operator's namespace. */
  async caSecret(): Promise<KubeObject & { data: Record<string, string> }> {
    return this.admin.get({ apiVersion: 'v1', kind: 'Secret' }, 'meshwright-webhook-ca', this.operatorNamespace);
  }

  /** Creates a pod; a refusal by admission is returned with the API server's message, anything else thrown. */
  async createPod(namespace: string, annotations: Record<string, string> = {}): Promise<CreateResult> {
    try {
      const created = await this.admin.create({
        apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'app-', namespace, labels: { app: 'injection-e2e' }, annotations },
        spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
      } as unknown as KubeObject);
      return { created };
    } catch (error) {
      if (error instanceof KubeApiError && (error.status === 400 || error.status === 403 || error.status === 500)) return { refused: error.apiMessage };
      throw error;
    }
  }

  /** Whether `pod` carries the test proxy. */
  static injected(pod: KubeObject): boolean {
    return (pod.spec as PodSpec).containers.some((c) => c.name === TEST_PROXY_CONTAINER);
  }

  /**
   * Creates pods in the enrolled namespace until one is injected: the API server picks a new
   * webhook configuration up within about a second, and pods created before that pass unmutated.
   */
  async warmUp(): Promise<KubeObject> {
    return eventually('a pod injected through the API server', async () => {
      const result = await this.createPod(this.enrolled);
      return 'created' in result && InjectionHarness.injected(result.created) ? result.created : undefined;
    }, 30_000, 300);
  }

  /** Sum of a counter over its series, from one operator's metrics. */
  static counter(text: string, name: string, labels: Record<string, string> = {}): number {
    const wanted = Object.entries(labels);
    let total = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (wanted.every(([k, v]) => line.includes(`${k}="${v}"`))) total += counterTotal(line, name);
    }
    return total;
  }

  /** Stops every operator, removes the installation, the webhook configuration, the namespaces and the account. */
  async tearDown(): Promise<void> {
    for (const process of this.processes) await process.stop().catch(() => undefined);
    const ignore = () => undefined;
    // The webhook fails closed: it must go before anything else is created in the enrolled namespace.
    await this.admin.delete({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration' }, testInjectionWebhookName(this.name)).catch(ignore);
    await removeTestMesh(this.admin, this.name, this.meshNamespace);
    for (const ns of [this.enrolled, this.plain]) await this.admin.delete({ apiVersion: 'v1', kind: 'Namespace' }, ns).catch(ignore);
    await this.cleanupAccount?.().catch(ignore);
    await this.admin.close();
  }
}
