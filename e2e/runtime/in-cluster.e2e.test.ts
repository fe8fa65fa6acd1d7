/**
 * The operator as a pod sees the cluster, without a container runtime: `meshwright run` starts in
 * a private mount namespace (`unshare`) where /run/secrets/kubernetes.io/serviceaccount holds its
 * ServiceAccount's token, the cluster CA and its namespace, KUBERNETES_SERVICE_HOST/PORT point at
 * the API server, and no kubeconfig exists. It must find its credentials the in-cluster way, take
 * its leader lease in the namespace the ServiceAccount file names, and reconcile.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { builtInDistributions } from '../../operator/distributions/built-in.ts';
import { KubeClient, userAgent, type KubeObject } from '../../operator/runtime/kube.ts';
import { auditEvents, writeVerbs } from '../support/audit.ts';
import { eventually, getIfExists, installMeshInstallationCrd, testKubeConfig } from '../support/kube.ts';
import { operatorServiceAccountKubeconfig } from '../support/operator-account.ts';

const kc = testKubeConfig();
const admin = new KubeClient(kc, 'meshwright-e2e-admin');
const run = randomBytes(3).toString('hex');
const name = `in-cluster-${run}`;
const miType = { apiVersion: API_VERSION, kind: KIND };
let operator: ChildProcess | undefined;
let cleanup: () => Promise<void> = async () => undefined;
let account: Awaited<ReturnType<typeof operatorServiceAccountKubeconfig>>;
const logFile = join(mkdtempSync(join(tmpdir(), 'meshwright-in-cluster-')), 'operator.log');

before(async () => {
  await installMeshInstallationCrd(admin);
  account = await operatorServiceAccountKubeconfig(admin, kc, run, builtInDistributions);
  cleanup = account.cleanup;
  const kubeconfig = JSON.parse(readFileSync(account.kubeconfig, 'utf8')) as { users: Array<{ user: { token: string } }>; clusters: Array<{ cluster: { server: string; 'certificate-authority-data': string } }> };
  const server = new URL(kubeconfig.clusters[0]!.cluster.server);
  const files = mkdtempSync(join(tmpdir(), 'meshwright-sa-files-'));
  writeFileSync(join(files, 'token'), kubeconfig.users[0]!.user.token);
  writeFileSync(join(files, 'ca.crt'), Buffer.from(kubeconfig.clusters[0]!.cluster['certificate-authority-data'], 'base64'));
  writeFileSync(join(files, 'namespace'), account.namespace);
  const home = mkdtempSync(join(tmpdir(), 'meshwright-home-'));
  // /var/run is /run here: a tmpfs over /run, visible to this process tree only, holds the files a pod gets.
  const script = [
    'set -e',
    'mount -t tmpfs tmpfs /run',
    'mkdir -p /run/secrets/kubernetes.io/serviceaccount',
    `cp ${files}/token ${files}/ca.crt ${files}/namespace /run/secrets/kubernetes.io/serviceaccount/`,
    `exec "${process.execPath}" bin/meshwright.mjs run --installation-selector=meshwright.dev/test-run=${run} --metrics-address=127.0.0.1:0 --identity=in-cluster-${run}`,
  ].join('\n');
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port };
  delete env.KUBECONFIG;
  operator = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { env, cwd: join(import.meta.dirname, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] });
  const log: Buffer[] = [];
  operator.stdout!.on('data', (chunk: Buffer) => log.push(chunk));
  operator.stderr!.on('data', (chunk: Buffer) => log.push(chunk));
  operator.on('exit', () => writeFileSync(logFile, Buffer.concat(log)));
});

after(async () => {
  if (operator && operator.exitCode === null) {
    operator.kill('SIGTERM');
    await new Promise((resolve) => operator!.once('exit', resolve));
  }
  await admin.delete(miType, name).catch(() => undefined);
  await cleanup();
  await admin.close();
});

test('in-cluster credentials: the ServiceAccount token and CA from the pod\'s files, the lease in the pod\'s namespace', async () => {
  const since = new Date();
  // A version not in the catalog: the operator must read the installation and write its status, and nothing else.
  await admin.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'meshwright.dev/test-run': run } }, spec: { mesh: 'istio', version: '1.9.0', namespace: `in-cluster-${run}` } });
  const stalled = await eventually('the in-cluster operator to report Stalled', async () => {
    const mi = await admin.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string; reason: string }> } }>(miType, name);
    return mi.status?.conditions?.find((c) => c.type === 'Stalled' && c.status === 'True');
  }, 30_000).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; operator log: ${logFile}`);
  });
  assert.equal(stalled.reason, 'VersionNotInCatalog');
  const lease = await getIfExists(admin, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' }, 'meshwright-operator', account.namespace);
  assert.ok(lease, 'the leader lease is in the namespace read from the ServiceAccount files');
  assert.equal((lease as KubeObject & { spec: { holderIdentity: string } }).spec.holderIdentity, `in-cluster-${run}`);
  const statusWrites = auditEvents(since, (e) => e.objectRef?.resource === 'meshinstallations' && e.objectRef.name === name && e.objectRef.subresource === 'status');
  assert.ok(statusWrites.length > 0);
  assert.ok(statusWrites.every((e) => e.user?.username === account.username), 'authenticated as the ServiceAccount, through its token file');
  // One client for everything: status writes, lists, watches, lease renewals, Events all carry our user agent.
  const byOperator = auditEvents(since, (e) => e.user?.username === account.username);
  assert.ok(byOperator.some((e) => e.objectRef?.resource === 'leases' && writeVerbs.has(e.verb)), 'lease renewals are among them');
  const others = byOperator.filter((e) => e.userAgent !== userAgent).map((e) => `${e.verb} ${e.requestURI} (${e.userAgent})`);
  assert.deepEqual(others, []);
});
