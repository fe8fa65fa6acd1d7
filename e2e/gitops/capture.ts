/**
 * What the e2e tests that capture a MeshInstallation for GitOps share: the capture itself (the
 * object as Argo CD or Flux reads it, written to MESHWRIGHT_CAPTURE_DIR as testdata of the Argo CD
 * health check when that is set), the verdicts of Argo CD's health engine and kstatus on it, and
 * the managedFields check that the operator owns no field of spec.
 *
 * How manifests/argocd/resource_customizations/meshwright.dev/MeshInstallation/testdata is made:
 * `MESHWRIGHT_CAPTURE_DIR=$PWD/manifests/argocd/resource_customizations/meshwright.dev/MeshInstallation/testdata npx tsx e2e/run-tests.ts <test>`
 * for helm-lifecycle, upgrade/inplace, upgrade/inplace-rollback, upgrade/inplace-failed and rotation/triggered.
 * A capture names its run's objects (namespaces, rollout targets), and so do the messages
 * health_test.yaml expects of it: recapture a phase, and its expected message changes with it
 * (e2e/gitops/argocd-health.e2e.test.ts fails until it is updated; the test that captured it has
 * already checked the verdict against the live object).
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { fieldManager, userAgent, type KubeObject } from '../../operator/runtime/kube.ts';
import { argoCdHealth, kstatus, type Judgement } from './referees.ts';

/**
 * The object as a GitOps tool reads it (managedFields are noise there); written as
 * `<phase>.yaml` with a header naming `test` (its path from the repository root) and the phase
 * when MESHWRIGHT_CAPTURE_DIR is set.
 */
export function capture<T extends KubeObject>(test: string, phase: string, mi: T): T {
  const object = structuredClone(mi);
  delete (object.metadata as { managedFields?: unknown }).managedFields;
  const dir = process.env.MESHWRIGHT_CAPTURE_DIR;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${phase}.yaml`), `# Captured by ${test} (phase: ${phase}).\n${stringify(object)}`);
  }
  return object;
}

/** Argo CD's (our health.lua in its Lua VM) and kstatus's verdicts on one object, neither failing. */
export async function judge(mi: object): Promise<{ argo: Judgement; kstatus: Judgement }> {
  const [[argo], [k]] = await Promise.all([argoCdHealth([mi]), kstatus([mi])]);
  assert.equal(argo!.error, undefined, `Argo CD's health engine failed: ${argo!.error}`);
  assert.equal(k!.error, undefined, `kstatus failed: ${k!.error}`);
  return { argo: argo!, kstatus: k! };
}

/** The operator's field managers: server-side apply's, and its user agent's name for its other writes (finalizer, status). */
export const operatorManagers: ReadonlySet<string> = new Set([fieldManager, userAgent.split('/')[0]!]);

/** managedFields entries of the operator's managers that own anything under spec (the object as read, managedFields kept). */
export function operatorSpecFields(mi: KubeObject): string[] {
  const entries = (mi.metadata as { managedFields?: Array<{ manager: string; fieldsV1?: Record<string, unknown> }> }).managedFields;
  assert.ok(entries && entries.length > 0, 'the object as read carries managedFields');
  // The operator's own writes (status, finalizer) are there under these names: the check looks where it should.
  assert.ok(entries.some((e) => operatorManagers.has(e.manager)), `an entry of the operator's managers (${[...operatorManagers].join(', ')}) among ${entries.map((e) => e.manager).join(', ')}`);
  return entries.filter((e) => operatorManagers.has(e.manager) && e.fieldsV1 && 'f:spec' in e.fieldsV1).map((e) => `${e.manager} ${JSON.stringify(e.fieldsV1!['f:spec'])}`);
}
