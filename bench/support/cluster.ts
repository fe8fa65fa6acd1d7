/**
 * The cluster a benchmark run measures: a throw-away local cluster (the default) or an existing
 * one named by a kubeconfig, with the MeshInstallation CRD installed and an admin client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpMethod, KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../operator/runtime/kube.ts';
import { startLocalCluster, stopLocalCluster } from '../../e2e/cluster/local-cluster.ts';
import { installMeshInstallationCrd } from '../../e2e/support/kube.ts';

/** A cluster ready for benchmarks. */
export interface BenchCluster {
  kubeconfig: string;
  kc: KubeConfig;
  /** Admin client of the bench itself (its own user agent, so it is never mistaken for the operator). */
  admin: KubeClient;
  /** The API server's audit log, when known (the local cluster writes one). */
  auditLog?: string;
  /** `gitVersion` of the API server. */
  kubernetesVersion: string;
  /** True when this run started the cluster (and stops it in {@link BenchCluster.close}). */
  owned: boolean;
  close(): Promise<void>;
}

/** Options of {@link openBenchCluster}. */
export interface BenchClusterOptions {
  /** Use this cluster instead of starting one. */
  kubeconfig?: string;
  auditLog?: string;
  /** Fake nodes of a started cluster (kwok nodes hold 2,000 pods each). */
  nodes?: number;
  log: (line: string) => void;
}

/** Starts (or connects to) the cluster and installs the MeshInstallation CRD. */
export async function openBenchCluster(options: BenchClusterOptions): Promise<BenchCluster> {
  let kubeconfig = options.kubeconfig;
  let auditLog = options.auditLog;
  let dir: string | undefined;
  if (!kubeconfig) {
    dir = mkdtempSync(join(tmpdir(), 'meshwright-bench-cluster-'));
    const state = await startLocalCluster({ dir, nodes: options.nodes, stopWhenProcessExits: process.pid, log: (line) => options.log(`[cluster] ${line}`) });
    kubeconfig = state.kubeconfig;
    auditLog = state.auditLog;
  }
  // e2e/support/audit.ts reads the audit log named here.
  if (auditLog) process.env.MESHWRIGHT_TEST_AUDIT_LOG = auditLog;
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const admin = new KubeClient(kc, 'meshwright-bench/0.1.0');
  await installMeshInstallationCrd(admin);
  const version = await admin.request<{ gitVersion: string }>(HttpMethod.GET, '/version');
  return {
    kubeconfig, kc, admin, auditLog, kubernetesVersion: version.gitVersion, owned: dir !== undefined,
    async close() {
      await admin.close();
      if (dir) {
        await stopLocalCluster(dir, () => undefined);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
