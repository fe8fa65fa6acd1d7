/**
 * Deleting a MeshInstallation in a test so the next one may render the same objects: the
 * installation is gone and so are its workloads' ReplicaSets and pods (or a Deployment of the same
 * name would adopt them before the garbage collector removes them).
 */
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import type { KubeClient } from '../../operator/runtime/kube.ts';
import { eventually, getIfExists } from './kube.ts';

/** Deletes installation `name` and waits until it and every ReplicaSet and Pod in `namespace` are gone. */
export async function removeInstallationAndWorkloads(admin: KubeClient, name: string, namespace: string): Promise<void> {
  const miType = { apiVersion: API_VERSION, kind: KIND };
  await admin.delete(miType, name).catch(() => undefined);
  await eventually(`${name} to be deleted`, async () => !(await getIfExists(admin, miType, name)), 120_000, 250);
  await eventually(`the workloads of ${name} to be gone`, async () => {
    for (const type of [{ apiVersion: 'apps/v1', kind: 'ReplicaSet' }, { apiVersion: 'v1', kind: 'Pod' }]) if ((await admin.list(type, { namespace })).items.length > 0) return false;
    return true;
  }, 120_000, 250);
}
