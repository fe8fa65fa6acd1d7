/**
 * `npm run cluster:up` / `cluster:down` / `cluster:status`: a long-lived local cluster for
 * development, kept in `$MESHWRIGHT_CLUSTER_DIR` (default `.cluster/` in the repository).
 */
import { join, resolve } from 'node:path';
import { readClusterState, startLocalCluster, stopLocalCluster } from './local-cluster.ts';

const dir = resolve(process.env.MESHWRIGHT_CLUSTER_DIR ?? join(import.meta.dirname, '..', '..', '.cluster'));

/** Tells a person how to reach the cluster from a shell. */
function usage(kubeconfig: string, binDir: string, auditLog: string): string {
  return [
    '',
    'The local cluster is up. To use it from this shell:',
    `  export KUBECONFIG=${kubeconfig}`,
    `  export PATH=${binDir}:$PATH   # kubectl built with the cluster`,
    '  kubectl get nodes',
    'Tests use it instead of starting their own when you run:',
    `  MESHWRIGHT_TEST_KUBECONFIG=${kubeconfig} MESHWRIGHT_TEST_AUDIT_LOG=${auditLog} npm test`,
    'Stop it with: npm run cluster:down',
    '',
  ].join('\n');
}

const command = process.argv[2];
switch (command) {
  case 'up': {
    const state = await startLocalCluster({ dir });
    process.stdout.write(usage(state.kubeconfig, state.binDir, state.auditLog));
    break;
  }
  case 'down':
    await stopLocalCluster(dir);
    break;
  case 'status': {
    const state = readClusterState(dir);
    if (!state) {
      process.stdout.write(`no cluster in ${dir}\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(usage(state.kubeconfig, state.binDir, state.auditLog));
    }
    break;
  }
  default:
    process.stderr.write('usage: cli.ts up | down | status\n');
    process.exitCode = 2;
}
