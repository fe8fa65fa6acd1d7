/**
 * The operator as it runs in a cluster, minus the container: its generated ServiceAccount and
 * least-privilege RBAC (manifests/operator.yaml) are installed, a token is requested for that
 * ServiceAccount, and `meshwright run` starts as a local process authenticating with it. A test
 * that passes this way shows the shipped RBAC is enough; anything missing fails with a 403.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpMethod, type KubeConfig } from '@kubernetes/client-node';
import { computeOperatorManifests, OPERATOR_NODE_FLAGS } from '../../operator/deploy/manifests.ts';
import { builtInDistributions } from '../../operator/distributions/built-in.ts';
import type { MeshDistribution } from '../../operator/distributions/distribution.ts';
import type { KubeClient, KubeObject } from '../../operator/runtime/kube.ts';
import { installMeshInstallationCrd } from './kube.ts';

/** A running operator process and how to stop it. */
export interface OperatorProcess {
  process: ChildProcess;
  logFile: string;
  /** Reconcile passes the process finished, from its own /metrics (`meshwright_reconcile_total`, all outcomes). */
  reconciles(): Promise<number>;
  stop(): Promise<void>;
}

/** The port of the metrics endpoint, from the operator's start-up log line. */
function metricsPort(logFile: string): number | undefined {
  const match = /"metricsPort":(\d+)/.exec(readFileSync(logFile, 'utf8'));
  return match ? Number(match[1]) : undefined;
}

/** Sum of a counter over all its label sets, from Prometheus text. */
export function counterTotal(metricsText: string, name: string): number {
  let total = 0;
  for (const line of metricsText.split('\n')) {
    const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`).exec(line);
    if (match) total += Number(match[1]);
  }
  return total;
}

/**
 * A kubeconfig file that authenticates as the ServiceAccount `namespace/name` with a token requested
 * for it (as the kubelet would project one; for `audiences` when given), and the token itself.
 */
export async function serviceAccountCredentials(admin: KubeClient, kc: KubeConfig, namespace: string, name: string, audiences?: string[]): Promise<{ file: string; token: string }> {
  const token = await admin.request<{ status: { token: string } }>(HttpMethod.POST, `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600, ...(audiences ? { audiences } : {}) },
  });
  const cluster = kc.getCurrentCluster()!;
  const file = join(mkdtempSync(join(tmpdir(), 'meshwright-sa-')), 'kubeconfig');
  writeFileSync(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'sa',
    clusters: [{ name: 'local', cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData } }],
    users: [{ name: 'sa', user: { token: token.status.token } }],
    contexts: [{ name: 'sa', context: { cluster: 'local', user: 'sa' } }],
  }));
  return { file, token: token.status.token };
}

/** A kubeconfig file that authenticates as the ServiceAccount `namespace/name` ({@link serviceAccountCredentials}'s file). */
export async function serviceAccountKubeconfig(admin: KubeClient, kc: KubeConfig, namespace: string, name: string): Promise<string> {
  return (await serviceAccountCredentials(admin, kc, namespace, name)).file;
}

/**
 * Installs the operator's ServiceAccount and RBAC under unique names and returns a kubeconfig file
 * that authenticates as that ServiceAccount.
 */
export async function operatorServiceAccountKubeconfig(admin: KubeClient, kc: KubeConfig, run: string, distributions: readonly MeshDistribution[]): Promise<{ kubeconfig: string; namespace: string; username: string; cleanup: () => Promise<void> }> {
  const namespace = `meshwright-${run}`;
  const name = `meshwright-operator-${run}`;
  const objects = computeOperatorManifests({ namespace, name, image: 'unused', distributions }).filter((o) => o.kind !== 'Deployment' && o.kind !== 'Service' && o.kind !== 'PodDisruptionBudget');
  for (const object of objects) await admin.apply(object, { force: true, manager: 'meshwright-e2e' });
  const kubeconfig = await serviceAccountKubeconfig(admin, kc, namespace, name);
  const cleanup = async () => {
    for (const object of [...objects].reverse()) await admin.delete(object as KubeObject, object.metadata.name, object.metadata.namespace).catch(() => undefined);
  };
  return { kubeconfig, namespace, username: `system:serviceaccount:${namespace}:${name}`, cleanup };
}

/** Starts `meshwright run` with the given kubeconfig and flags; JSON logs go to a file. */
export function startOperatorProcess(kubeconfig: string, args: string[]): OperatorProcess {
  const logFile = join(mkdtempSync(join(tmpdir(), 'meshwright-operator-')), 'operator.log');
  // With the Node flags the Deployment gives it: what is measured and tested is what is shipped.
  // MESHWRIGHT_OPERATOR_CPU_PROFILE_DIR=<dir>: each process writes a V8 CPU profile there when it exits (where a pass's time goes).
  const profileDir = process.env.MESHWRIGHT_OPERATOR_CPU_PROFILE_DIR;
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, [...OPERATOR_NODE_FLAGS, ...profile, join(import.meta.dirname, '..', '..', 'bin', 'meshwright.mjs'), 'run', ...args], {
    env: { ...process.env, KUBECONFIG: kubeconfig },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile);
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  return {
    process: child,
    logFile,
    async reconciles() {
      const port = metricsPort(logFile);
      if (port === undefined) return 0;
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      return counterTotal(await response.text(), 'meshwright_reconcile_total');
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** A running operator process authenticated as its own ServiceAccount, and how to remove that account. */
export interface OperatorWithAccount {
  operator: OperatorProcess;
  /** The ServiceAccount's user name, as the audit log records it. */
  username: string;
  cleanup(): Promise<void>;
}

/**
 * Installs the MeshInstallation CRD and the operator's own ServiceAccount with the RBAC generated
 * for the built-in distributions, then starts `meshwright run` as that account with the flags
 * `args` gives for it (so tests exercise the least-privilege RBAC the operator ships).
 */
export async function startOperatorWithOwnAccount(admin: KubeClient, kc: KubeConfig, run: string, args: (account: { namespace: string }) => string[]): Promise<OperatorWithAccount> {
  await installMeshInstallationCrd(admin);
  const account = await operatorServiceAccountKubeconfig(admin, kc, run, builtInDistributions);
  return { operator: startOperatorProcess(account.kubeconfig, args(account)), username: account.username, cleanup: account.cleanup };
}
