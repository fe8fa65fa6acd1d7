/**
 * The sample application `npm start` deploys once the mesh is Ready (examples/sample-app/app.yaml:
 * frontend → api → db, Deployments and Services), into the first namespace the installation
 * enrols, so a newcomer sees pods carrying the mesh proxy. It waits for the operator to enrol the
 * namespace before deploying (pods created earlier would not be injected), then for the pods, and
 * says what it saw — injected or not, and why not when it can tell — and how to look for oneself.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpMethod } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { ENROLLED_BY_ANNOTATION } from '../../operator/controllers/meshinstallation/enrolment.ts';
import { INSTALLATION_LABEL } from '../../operator/controllers/ownership.ts';
import { INJECTED_BY_LABEL, RECORD_ANNOTATIONS } from '../../operator/distributions/injection.ts';
import { isNotFound, type KubeClient, type KubeObject } from '../../operator/runtime/kube.ts';

/** The sample application's manifest. */
export const SAMPLE_APP_FILE = join(import.meta.dirname, '..', '..', 'examples', 'sample-app', 'app.yaml');

/** The sample application's objects, placed in `namespace`. */
export function sampleAppObjects(namespace: string, file = SAMPLE_APP_FILE): KubeObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as KubeObject | null).filter((o): o is KubeObject => o !== null)
    .map((o) => ({ ...o, metadata: { ...o.metadata, namespace } }));
}

/** Where the sample goes: the first namespace the installation enrols by name; undefined when it names none. */
export function sampleNamespaceOf(installation: KubeObject): string | undefined {
  return (installation.spec as { injection?: { namespaces?: string[] } } | undefined)?.injection?.namespaces?.[0];
}

/** What {@link deploySampleApp} saw. */
export interface SampleAppReport {
  namespace?: string;
  /** Pods of the sample by name, with the proxy version they record (undefined: not injected). */
  pods: Array<{ name: string; injected: boolean; proxyVersion?: string }>;
  /** Why pods are missing, when a ReplicaSet says (a webhook refusing them, say). */
  failures: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every 500 ms until it returns a value or `deadline` (epoch ms) passes. */
async function until<T>(deadline: number, probe: () => Promise<T | undefined>): Promise<T | undefined> {
  for (;;) {
    const value = await probe();
    if (value !== undefined || Date.now() > deadline) return value;
    await sleep(500);
  }
}

/** Whether the API server's admission injects a pod in `namespace` now: a dry run (nothing is created). */
async function admissionInjects(client: KubeClient, namespace: string, installation: string): Promise<true | undefined> {
  const path = `${await client.path({ apiVersion: 'v1', kind: 'Pod' }, namespace)}?dryRun=All`;
  try {
    const pod = await client.request<KubeObject>(HttpMethod.POST, path, {
      apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'sample-app-probe-', namespace },
      spec: { containers: [{ name: 'probe', image: 'registry.k8s.io/pause:3.10' }] },
    });
    return pod.metadata.labels?.[INJECTED_BY_LABEL] === installation ? true : undefined;
  } catch {
    return undefined; // refused (a webhook not serving yet): try again
  }
}

/**
 * Deploys the sample into `installation`'s first enrolled namespace (creating the namespace if
 * needed), waits for its pods and reports them through `say`. Never throws for what the cluster
 * does (a refused pod, an operator that does not inject): it says so.
 */
export async function deploySampleApp(client: KubeClient, installation: KubeObject, say: (line: string) => void, timeoutMs = 120_000): Promise<SampleAppReport> {
  const name = installation.metadata.name;
  const namespace = sampleNamespaceOf(installation);
  if (!namespace) {
    say(`${name} enrols no namespace by name (spec.injection.namespaces), so the sample app is not deployed; add e.g. "injection: {namespaces: [shop]}"`);
    return { pods: [], failures: [] };
  }
  const deadline = Date.now() + timeoutMs;
  const nsType = { apiVersion: 'v1', kind: 'Namespace' };
  try {
    await client.get(nsType, namespace);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'app.kubernetes.io/part-of': 'sample-app' } } });
    say(`created namespace ${namespace} for the sample app`);
  }
  // Pods created before the namespace is enrolled would not be injected: wait for the operator.
  const enrolled = await until(Math.min(deadline, Date.now() + 30_000), async () => {
    const ns = await client.get(nsType, namespace);
    if (ns.metadata.annotations?.[ENROLLED_BY_ANNOTATION] === name) return true;
    const mi = await client.get<KubeObject & { status?: { dataPlane?: { enrolledNamespaces?: number } } }>({ apiVersion: API_VERSION, kind: KIND }, name);
    return (mi.status?.dataPlane?.enrolledNamespaces ?? 0) > 0 ? true : undefined;
  });
  say(enrolled ? `namespace ${namespace} is enrolled for injection` : `namespace ${namespace} was not enrolled within 30s (does this build of the operator enrol namespaces?); deploying anyway`);
  // The API server learns of the label and of new webhook configurations from its own caches, a
  // moment later: pods created before that would pass uninjected. A dry-run pod shows when it has.
  if (enrolled) {
    const ready = await until(Math.min(deadline, Date.now() + 30_000), () => admissionInjects(client, namespace, name));
    if (!ready) say(`a dry-run pod in ${namespace} is still not injected after 30s; deploying anyway`);
  }

  const objects = sampleAppObjects(namespace);
  for (const object of objects) await client.apply(object, { force: true, manager: 'meshwright-start' });
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  say(`deployed the sample app (${deployments.map((d) => d.metadata.name).join(' → ')}) into ${namespace}; waiting for its pods`);

  const wanted = deployments.reduce((sum, d) => sum + ((d.spec as { replicas?: number }).replicas ?? 1), 0);
  const podType = { apiVersion: 'v1', kind: 'Pod' };
  const report: SampleAppReport = { namespace, pods: [], failures: [] };
  await until(deadline, async () => {
    const pods = (await client.list(podType, { namespace, labelSelector: 'part-of=sample-app' })).items.filter((p) => !p.metadata.deletionTimestamp);
    report.pods = pods.map((p) => ({ name: p.metadata.name, injected: p.metadata.labels?.[INJECTED_BY_LABEL] === name, proxyVersion: p.metadata.annotations?.[RECORD_ANNOTATIONS.proxyVersion] }));
    const replicaSets = (await client.list({ apiVersion: 'apps/v1', kind: 'ReplicaSet' }, { namespace, labelSelector: 'part-of=sample-app' })).items;
    report.failures = replicaSets.flatMap((rs) => ((rs.status as { conditions?: Array<{ type: string; message?: string }> } | undefined)?.conditions ?? [])
      .filter((c) => c.type === 'ReplicaFailure').map((c) => `${rs.metadata.name}: ${c.message ?? 'pods cannot be created'}`));
    return pods.length >= wanted || report.failures.length > 0 ? true : undefined;
  });

  for (const pod of report.pods.sort((a, b) => a.name.localeCompare(b.name))) say(`  pod ${pod.name}: ${pod.injected ? `mesh proxy ${pod.proxyVersion ?? '(version not recorded)'}` : 'no mesh proxy'}`);
  for (const failure of report.failures) say(`  ${failure}`);
  const injected = report.pods.filter((p) => p.injected).length;
  if (report.pods.length < wanted && report.failures.length === 0) say(`only ${report.pods.length} of ${wanted} pods were created within ${Math.round(timeoutMs / 1000)}s`);
  if (injected > 0) {
    say(`${injected} of ${report.pods.length} sample pods carry the mesh proxy`);
  } else if (report.pods.length > 0) {
    const webhooks = (await client.list({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration' }, { labelSelector: `${INSTALLATION_LABEL}=${name}` })).items;
    say(webhooks.length === 0
      ? 'the sample pods run without the mesh proxy: this build of the operator serves no injection webhook yet'
      : 'the sample pods run without the mesh proxy; the operator log says why (.cluster/logs/operator.log)');
  }
  say(`see them: kubectl get pods -n ${namespace} -L ${INJECTED_BY_LABEL}   (containers: kubectl get pods -n ${namespace} -o custom-columns=POD:.metadata.name,CONTAINERS:.spec.containers[*].name)`);
  say(`and the data plane as the operator counts it: kubectl get mi ${name} (column Proxies), kubectl get mi ${name} -o jsonpath='{.status.dataPlane}'`);
  return report;
}
