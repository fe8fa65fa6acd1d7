/**
 * The README's "An upgrade, as a user sees it", run again: `npx tsx e2e/meshes/upgrade-walkthrough.ts
 * [--fixtures DIR]`. Starts a local control plane (as the tests do) and the operator as its own
 * ServiceAccount, installs Linkerd 2.19 from a `mi.yaml` with four Deployments in the enrolled
 * namespace `shop`, then bumps `spec.version` to 2.20 and on to edge-26.8.3 (on which `cart`
 * crash-loops, see kwok's pod-crash-loop), and prints what the user's commands print at each
 * moment: `meshwright plan --from-cluster`, `kubectl get meshinstallation`, `meshwright status`,
 * the pods' proxy versions. With `--fixtures DIR` it also writes the installation and its Events
 * halfway through the data plane and after the rollback as `meshwright status` test fixtures
 * (times moved to the fixtures' clock), as operator/cli/testdata/status/upgrade-*.yaml were made.
 *
 * Not a test: the moments are found by polling status (a person watching), and nothing is asserted.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import type { MeshInstallationStatus } from '../../operator/api/status.ts';
import { KubeClient, type KubeObject } from '../../operator/runtime/kube.ts';
import { freePort, startLocalCluster, stopLocalCluster } from '../cluster/local-cluster.ts';
import { startOperatorWithOwnAccount } from '../support/operator-account.ts';

type Installation = KubeObject & { spec: Record<string, unknown>; status?: MeshInstallationStatus };
type Event = KubeObject & { type?: string; reason?: string; note?: string; eventTime?: string; regarding?: { name?: string }; series?: { count?: number; lastObservedTime?: string } };

const { values: flags } = parseArgs({ options: { fixtures: { type: 'string' } } });
const root = join(import.meta.dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'meshwright-walkthrough-'));
const state = await startLocalCluster({ dir: join(work, 'cluster'), stopWhenProcessExits: process.pid });
const env = { ...process.env, KUBECONFIG: state.kubeconfig, NO_COLOR: '1' };
process.env.KUBECONFIG = state.kubeconfig;
const kc = new KubeConfig();
kc.loadFromDefault();
const admin = new KubeClient(kc, 'meshwright-walkthrough');
const miType = { apiVersion: API_VERSION, kind: KIND };

/** Runs a command in the work directory; its output, also when it exits non-zero (meshwright status does while not Ready). */
function run(command: string, ...args: string[]): string {
  try {
    return execFileSync(command, args, { env, encoding: 'utf8', cwd: work });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    return `${failed.stdout ?? ''}${failed.stderr ?? ''}`;
  }
}
const meshwright = (...args: string[]) => run(process.execPath, join(root, 'bin', 'meshwright.mjs'), ...args);
const kubectl = (...args: string[]) => run('kubectl', ...args);

/** Prints a command and what it printed, as the README shows it. */
function show(command: string, output: string): void {
  process.stdout.write(`\`\`\`\n$ ${command}\n${output.replace(/\n+$/, '')}\n\`\`\`\n\n`);
}
const showKubectl = (...args: string[]) => show(`kubectl ${args.join(' ')}`, kubectl(...args));
const showMeshwright = (...args: string[]) => show(`meshwright ${args.join(' ')}`, meshwright(...args));
const PROXY_COLUMNS = 'custom-columns=POD:.metadata.name,PROXY:.metadata.annotations.linkerd\\.io/proxy-version';

const manifest = (version: string) => `apiVersion: ${API_VERSION}
kind: ${KIND}
metadata:
  name: mesh
spec:
  mesh: linkerd
  version: "${version}"
  namespace: linkerd
  injection:
    namespaces: [shop]
    restartWorkloads:
      maxUnavailable: 1
      batchInterval: 10s
`;
const get = () => admin.get<Installation>(miType, 'mesh');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ready = (mi: Installation) => mi.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Polls the installation (every 100 ms, at most 5 minutes) until `check` holds. */
async function until(what: string, check: (mi: Installation) => boolean): Promise<Installation> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const mi = await get();
    if (check(mi)) return mi;
    if (Date.now() > deadline) throw new Error(`${what}: not within 5 minutes; status ${JSON.stringify(mi.status)}`);
    await sleep(100);
  }
}

/** Writes the installation and its latest Events as a status fixture, every timestamp moved so that now is 2026-11-27T19:00:00Z. */
async function writeFixture(file: string, comment: string): Promise<void> {
  if (!flags.fixtures) return;
  const mi = await get();
  // Whole seconds, as the API server writes its timestamps.
  const shift = Date.parse('2026-11-27T19:00:00Z') - Math.round(Date.now() / 1000) * 1000;
  const { items } = await admin.list<Event>({ apiVersion: 'events.k8s.io/v1', kind: 'Event' }, { namespace: 'default' });
  const events = items.filter((e) => e.regarding?.name === 'mesh')
    .map((e) => ({ installation: 'mesh', type: e.type, reason: e.reason, note: e.note, time: e.series?.lastObservedTime ?? e.eventTime ?? e.metadata.creationTimestamp, ...(e.series?.count ? { count: e.series.count } : {}) }))
    .sort((a, b) => Date.parse(String(b.time)) - Date.parse(String(a.time))).slice(0, 5);
  const { name, generation, creationTimestamp } = mi.metadata;
  const { inventory: _inventory, ...status } = mi.status ?? {};
  const fixture = { installations: [{ apiVersion: mi.apiVersion, kind: mi.kind, metadata: { name, generation, creationTimestamp }, spec: mi.spec, status }], events };
  const moved = JSON.stringify(fixture).replace(/"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"/g, (_whole, time: string) => JSON.stringify(new Date(Date.parse(time) + shift).toISOString().replace(/\.\d+Z$/, 'Z')));
  writeFileSync(join(flags.fixtures, file), `# ${comment}\n${stringify(JSON.parse(moved))}`);
}

const operatorPort = await freePort();
const { operator, cleanup } = await startOperatorWithOwnAccount(admin, kc, 'walkthrough', (account) => [
  '--leader-elect=true', `--leader-election-namespace=${account.namespace}`, '--identity=walkthrough', '--metrics-address=127.0.0.1:0',
  `--webhook-port=${operatorPort}`, `--webhook-url=https://127.0.0.1:${operatorPort}`,
]);
try {
  kubectl('create', 'namespace', 'shop');
  writeFileSync(join(work, 'mi.yaml'), manifest('2.19'));
  kubectl('apply', '-f', 'mi.yaml');
  kubectl('wait', '--for=condition=Ready', 'meshinstallation/mesh', '--timeout=240s');
  // The API server takes a new webhook configuration up within about a second: dry-run until a pod is injected.
  for (let i = 0; i < 100 && !kubectl('run', 'probe', '-n', 'shop', '--image=registry.example/probe:1', '--dry-run=server', '-o', 'yaml').includes('linkerd-proxy'); i++) await sleep(300);
  const apps = ['web', 'cart', 'checkout', 'catalog'];
  for (const app of apps) kubectl('create', 'deployment', app, '-n', 'shop', `--image=registry.example/shop/${app}:1`);
  for (const app of apps) kubectl('rollout', 'status', `deployment/${app}`, '-n', 'shop', '--timeout=120s');
  await until('installed with four injected workloads', (mi) => ready(mi) && mi.status?.dataPlane?.injectedPods === apps.length);

  writeFileSync(join(work, 'mi.yaml'), manifest('2.20'));
  showMeshwright('plan', '-f', 'mi.yaml', '--from-cluster');
  kubectl('apply', '-f', 'mi.yaml');
  await until('halfway through the data plane', (mi) => mi.status?.upgrade?.to === '2.20' && mi.status.upgrade.phase === 'DataPlane' && (mi.status.upgrade.updatedWorkloads ?? 0) >= 2);
  showKubectl('get', 'meshinstallation');
  showMeshwright('status', 'mesh');
  await writeFixture('upgrade-inplace-linkerd.yaml', 'Linkerd 2.19 -> 2.20 in place on the local cluster, halfway through the data plane (captured from a real run by e2e/meshes/upgrade-walkthrough.ts, times moved to the fixtures\' clock).');
  await until('2.20 Ready', (mi) => mi.status?.upgrade?.phase === 'Succeeded' && ready(mi));
  showKubectl('get', 'meshinstallation');
  showKubectl('get', 'pods', '-n', 'shop', '-o', PROXY_COLUMNS);

  // cart breaks on edge-26.8.3's proxy (kwok crash-loops a pod annotated with the proxy version it breaks on).
  kubectl('patch', 'deployment', 'cart', '-n', 'shop', '--type=merge', '-p', JSON.stringify({ spec: { template: { metadata: { annotations: { 'meshwright.dev/kwok-crash-loop-with-proxy': 'edge-26.8.3' } } } } }));
  kubectl('rollout', 'status', 'deployment/cart', '-n', 'shop', '--timeout=120s');
  await until('2.20 Ready again', (mi) => ready(mi) && mi.status?.dataPlane?.outdatedPods === 0);
  writeFileSync(join(work, 'mi.yaml'), manifest('edge-26.8.3'));
  kubectl('apply', '-f', 'mi.yaml');
  await until('rolling back', (mi) => mi.status?.upgrade?.to === 'edge-26.8.3' && mi.status.upgrade.phase === 'RollingBack');
  showKubectl('get', 'meshinstallation');
  await until('rolled back', (mi) => mi.status?.upgrade?.to === 'edge-26.8.3' && ['RolledBack', 'Failed'].includes(mi.status.upgrade.phase));
  showKubectl('get', 'meshinstallation');
  showMeshwright('status', 'mesh');
  await writeFixture('upgrade-rolled-back.yaml', 'Linkerd 2.20 -> edge-26.8.3 in place on the local cluster, rolled back: the cart workload crash-looped on the new proxy (captured from a real run by e2e/meshes/upgrade-walkthrough.ts, times moved to the fixtures\' clock).');
  showKubectl('get', 'pods', '-n', 'shop', '-o', PROXY_COLUMNS);
} finally {
  await operator.stop().catch(() => undefined);
  await cleanup().catch(() => undefined);
  await admin.close();
  await stopLocalCluster(join(work, 'cluster'));
}
