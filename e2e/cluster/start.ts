/**
 * `npm start`: the operator end to end on the local cluster. Starts (or rebuilds) the local control
 * plane in `.cluster/`, installs the MeshInstallation CRD, runs the operator as a local process
 * (`meshwright run`, its JSON logs in `.cluster/logs/operator.log`), applies an example
 * (`examples/istio-minimal.yaml` unless another file is named) and reports progress until the
 * installation is Ready. Then it deploys the sample application (examples/sample-app/: frontend →
 * api → db) into the first namespace the installation enrols and shows its pods with their mesh
 * proxies (e2e/cluster/sample-app.ts). Then it keeps the operator running until Ctrl-C; the
 * cluster stays up (`npm run cluster:down` stops it).
 *
 *   npm start                                   # Istio, examples/istio-minimal.yaml
 *   npm start -- examples/linkerd-minimal.yaml  # another example
 *   npm start -- --exit-when-ready              # stop the operator once Ready and the sample app is shown (scripts, CI)
 *   npm start -- --no-sample-app                # the mesh only
 */
import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { OPERATOR_NODE_FLAGS } from '../../operator/deploy/manifests.ts';
import { isNotFound, KubeClient, type KubeObject } from '../../operator/runtime/kube.ts';
import { installMeshInstallationCrd } from '../support/kube.ts';
import { freePort, startLocalCluster } from './local-cluster.ts';
import { deploySampleApp } from './sample-app.ts';

const root = join(import.meta.dirname, '..', '..');
const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'exit-when-ready': { type: 'boolean' }, 'no-sample-app': { type: 'boolean' }, timeout: { type: 'string' } } });
const example = resolve(positionals[0] ?? join(root, 'examples', 'istio-minimal.yaml'));
const dir = resolve(process.env.MESHWRIGHT_CLUSTER_DIR ?? join(root, '.cluster'));
const timeoutMs = Number(values.timeout ?? 300) * 1000;
const say = (line: string) => process.stdout.write(`[meshwright] ${line}\n`);

type Installation = KubeObject & { status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }>; components?: Array<{ kind: string; name: string; ready: boolean; available?: number; replicas?: number }>; certificateAuthority?: { rootFingerprint?: string; rootNotAfter?: string }; version?: string } };

const state = await startLocalCluster({ dir });
const kc = new KubeConfig();
kc.loadFromFile(state.kubeconfig);
const client = new KubeClient(kc, 'meshwright-start');
await installMeshInstallationCrd(client);
say('MeshInstallation CRD installed');

// The operator serves the injection webhook on a local port the API server (also local) calls; its
// serving CA Secret lives in the operator's namespace, as in a cluster.
const operatorNamespace = 'meshwright-system';
try {
  await client.get({ apiVersion: 'v1', kind: 'Namespace' }, operatorNamespace);
} catch (error) {
  if (!isNotFound(error)) throw error;
  await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: operatorNamespace } });
}
const webhookPort = await freePort();
const operatorLog = join(dir, 'logs', 'operator.log');
const operator = spawn(process.execPath, [
  ...OPERATOR_NODE_FLAGS, join(root, 'bin', 'meshwright.mjs'), 'run', '--leader-elect=false', '--metrics-address=127.0.0.1:0',
  `--leader-election-namespace=${operatorNamespace}`, `--webhook-port=${webhookPort}`, `--webhook-url=https://127.0.0.1:${webhookPort}`,
], {
  env: { ...process.env, KUBECONFIG: state.kubeconfig },
  stdio: ['ignore', 'pipe', 'pipe'],
});
const logStream = createWriteStream(operatorLog);
operator.stdout.pipe(logStream);
operator.stderr.pipe(logStream);
let operatorExited = false;
operator.on('exit', (code, signal) => {
  operatorExited = true;
  if (!stopping) {
    say(`the operator exited (${signal ?? code}); its log: ${operatorLog}`);
    process.exit(1);
  }
});
say(`operator running (pid ${operator.pid}, injection webhook at https://127.0.0.1:${webhookPort}); logs: ${operatorLog}`);

const installations = parseAllDocuments(readFileSync(example, 'utf8')).map((d) => d.toJS() as KubeObject).filter((o) => o?.kind === KIND);
if (installations.length === 0) throw new Error(`${example} holds no ${KIND}`);
for (const installation of installations) {
  await client.apply(installation, { force: true, manager: 'kubectl' });
  say(`applied ${example} (MeshInstallation ${installation.metadata.name})`);
}

let stopping = false;
async function stopOperator(): Promise<void> {
  stopping = true;
  if (!operatorExited) {
    operator.kill('SIGTERM');
    await new Promise((r) => operator.once('exit', r));
  }
  await client.close();
}
process.on('SIGINT', () => void stopOperator().then(() => process.exit(0)));
process.on('SIGTERM', () => void stopOperator().then(() => process.exit(0)));

const deadline = Date.now() + timeoutMs;
for (const { metadata: { name } } of installations) {
  let last = '';
  for (;;) {
    const mi = await client.get<Installation>({ apiVersion: API_VERSION, kind: KIND }, name);
    const ready = mi.status?.conditions?.find((c) => c.type === 'Ready');
    const line = `${name}: Ready=${ready?.status ?? 'Unknown'} ${ready?.reason ?? ''} ${ready?.message ?? ''}`.trim();
    if (line !== last) say(line);
    last = line;
    if (ready?.status === 'True') {
      for (const c of mi.status?.components ?? []) say(`  ${c.kind} ${c.name}: ${c.available ?? 0}/${c.replicas ?? 1} available`);
      const ca = mi.status?.certificateAuthority;
      if (ca?.rootFingerprint) say(`  CA root ${ca.rootFingerprint} valid until ${ca.rootNotAfter}`);
      break;
    }
    if (Date.now() > deadline) {
      say(`not Ready after ${timeoutMs / 1000}s; operator log: ${operatorLog}`);
      await stopOperator();
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

say(`Ready. From a shell: export KUBECONFIG=${state.kubeconfig} PATH=${state.binDir}:$PATH; kubectl get meshinstallations`);
if (!values['no-sample-app']) {
  try {
    await deploySampleApp(client, installations[0]!, say);
  } catch (error) {
    // The mesh is up; a sample that could not be shown is no reason to stop the operator.
    say(`the sample app could not be deployed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
if (values['exit-when-ready']) {
  await stopOperator();
  process.exit(0);
}
say('the operator keeps reconciling; Ctrl-C stops it (the cluster stays up: npm run cluster:down)');
