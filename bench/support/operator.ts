/**
 * The operator under measurement: `meshwright run` as its own process (so its RSS and its requests
 * are its own), authenticated as its own ServiceAccount with the shipped RBAC, managing only the
 * MeshInstallations labelled with its selector.
 */
import { readFileSync } from 'node:fs';
import { builtInDistributions } from '../../operator/distributions/built-in.ts';
import { operatorServiceAccountKubeconfig, startOperatorProcess } from '../../e2e/support/operator-account.ts';
import { eventually } from '../../e2e/support/kube.ts';
import { freePort } from '../../e2e/cluster/local-cluster.ts';
import type { BenchCluster } from './cluster.ts';

/** Label key that says which benchmark operator manages a MeshInstallation. */
export const BENCH_SELECTOR_KEY = 'meshwright.dev/bench';

/** A running benchmark operator. */
export interface BenchOperator {
  pid: number;
  /** Value of {@link BENCH_SELECTOR_KEY} on the installations it manages. */
  selector: string;
  /** The ServiceAccount it authenticates as. */
  serviceAccount: { namespace: string; name: string; username: string };
  metricsPort: number;
  logFile: string;
  /** Resident set size now, from `/proc/<pid>/status` (VmRSS). */
  rssBytes(): number;
  /** Stops the process (SIGTERM, lease released) and removes its ServiceAccount and RBAC. */
  stop(): Promise<void>;
}

/** Resident set size of a process in bytes, from `/proc/<pid>/status`. */
export function processRssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/**
 * Starts an operator for run `id` and resolves once it leads and its caches are synced (`/readyz`).
 * With `webhook`, it serves the injection webhook (installations then render their webhook
 * configurations, failing closed): only for an operator that outlives its installations' use — the
 * install benchmark's operators stop while a smoke run leaves their installations behind.
 */
export async function startBenchOperator(cluster: BenchCluster, id: string, options: { webhook?: boolean } = {}): Promise<BenchOperator> {
  const account = await operatorServiceAccountKubeconfig(cluster.admin, cluster.kc, id, builtInDistributions);
  const name = `meshwright-operator-${id}`;
  // The injection webhook is served as outside a cluster: the API server calls it by URL.
  const webhookPort = options.webhook ? await freePort() : 0;
  const operator = startOperatorProcess(account.kubeconfig, [
    `--webhook-port=${webhookPort}`, ...(options.webhook ? [`--webhook-url=https://127.0.0.1:${webhookPort}`] : []),
    `--installation-selector=${BENCH_SELECTOR_KEY}=${id}`, '--leader-elect=true', `--leader-election-namespace=${account.namespace}`,
    `--identity=bench-${id}`, '--metrics-address=127.0.0.1:0', '--log-level=info',
  ]);
  const logLines = () => readFileSync(operator.logFile, 'utf8').split('\n');
  try {
    const metricsPort = await eventually('the operator to listen', async () => {
      if (operator.process.exitCode !== null) throw new Error(`the operator exited (${operator.process.exitCode}); log: ${operator.logFile}`);
      const line = logLines().find((l) => l.includes('"metricsPort"'));
      return line ? (JSON.parse(line) as { metricsPort: number }).metricsPort : undefined;
    }, 30_000, 100);
    await eventually('the operator to be ready and lead', async () => {
      const ready = await fetch(`http://127.0.0.1:${metricsPort}/readyz`).then((r) => r.ok, () => false);
      return ready && logLines().some((l) => l.includes('became leader'));
    }, 60_000, 100);
    return {
      pid: operator.process.pid!,
      selector: id,
      serviceAccount: { namespace: account.namespace, name, username: `system:serviceaccount:${account.namespace}:${name}` },
      metricsPort,
      logFile: operator.logFile,
      rssBytes: () => processRssBytes(operator.process.pid!),
      async stop() {
        await operator.stop();
        await account.cleanup();
      },
    };
  } catch (error) {
    await operator.stop();
    await account.cleanup();
    throw error;
  }
}
