/**
 * A local cluster of its own with an operator on its own account, for the tests that run the real
 * istiod as a local process: istiod watches cluster-wide and would see (and write to) the shared
 * test cluster's other installations, so each such test file starts its own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../operator/runtime/kube.ts';
import { startLocalCluster, stopLocalCluster, type ClusterState } from '../cluster/local-cluster.ts';
import { startOperatorWithOwnAccount, type OperatorProcess } from '../support/operator-account.ts';

/** A running cluster of its own, its admin client and the operator selecting installations labelled `meshwright.dev/e2e-referee=<run>`. */
export interface OwnCluster {
  cluster: ClusterState;
  kc: KubeConfig;
  admin: KubeClient;
  operator: OperatorProcess;
  /** Stops the operator, removes its account, closes the client and stops and removes the cluster. */
  stop(): Promise<void>;
}

/** Starts a cluster of its own (its log lines prefixed `[<label>]`) and an operator without leader election on it. */
export async function startOwnCluster(run: string, label: string): Promise<OwnCluster> {
  const dir = mkdtempSync(join(tmpdir(), `meshwright-${label.replaceAll(' ', '-')}-`));
  const stopCluster = async () => {
    await stopLocalCluster(dir);
    rmSync(dir, { recursive: true, force: true });
  };
  const cluster = await startLocalCluster({ dir, stopWhenProcessExits: process.pid, log: (line) => process.stderr.write(`[${label}] ${line}\n`) })
    .catch(async (error: unknown) => { await stopCluster(); throw error; });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const admin = new KubeClient(kc, 'meshwright-e2e-admin');
  const { operator, cleanup } = await startOperatorWithOwnAccount(admin, kc, run, () => [
    `--installation-selector=meshwright.dev/e2e-referee=${run}`, '--leader-elect=false', '--metrics-address=127.0.0.1:0', '--log-level=info',
  ]).catch(async (error: unknown) => { await admin.close(); await stopCluster(); throw error; });
  return {
    cluster, kc, admin, operator,
    async stop() {
      await operator.stop();
      await cleanup();
      await admin.close();
      await stopCluster();
    },
  };
}
