/**
 * kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status, built from its Go module) on every object in
 * the Argo CD health check's testdata: the captures of a real installation's phases (install,
 * upgrade, rollback, failure, rotation) and the hand-written edge cases; every testdata file is judged. What Flux and `kubectl`-adjacent tools conclude from our status.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { argoHealthDir, kstatus } from './referees.ts';

/** Expected kstatus verdict per testdata file. */
const expected: Record<string, string> = {
  // Captured from e2e/gitops/helm-lifecycle.e2e.test.ts.
  installing: 'InProgress',
  'generation-lag': 'InProgress',
  ready: 'Current',
  paused: 'Current',
  stalled: 'Failed',
  deleting: 'Terminating',
  // Captured from e2e/upgrade/inplace*.e2e.test.ts and e2e/rotation/triggered.e2e.test.ts: mid-upgrade
  // (DataPlane) and mid-rotation (restarting for the overlap bundle) InProgress; a rolled-back or
  // failed upgrade to the version spec names is Stalled=True (UpgradeRolledBack, UpgradeFailed):
  // Failed; once spec names the version that runs again, Current although status.upgrade still
  // records the rolled-back upgrade.
  upgrading: 'InProgress',
  rotating: 'InProgress',
  'upgrade-rolled-back': 'Failed',
  'upgrade-failed': 'Failed',
  'upgrade-rolled-back-superseded': 'Current',
  // Hand-written.
  'paused-not-ready': 'InProgress',
  'stalled-previous-generation': 'InProgress',
  'deleting-ready': 'Terminating',
  // The instant between the status write of a rollback's final phase and the end of that pass:
  // the rollback's conditions (Reconciling=True) still stand.
  'upgrade-rolled-back-before-stall': 'InProgress',
  // kstatus reads neither a condition's own observedGeneration nor status.certificateAuthority.rotation:
  // these are Current on Ready=True (the operator writes every condition with status.observedGeneration,
  // so the first does not arise from it; the second is a rotation between its restarts, when every
  // readiness condition is True — Progressing only to Argo CD's check).
  'ready-condition-stale': 'Current',
  'rotating-between-restarts': 'Current',
  // Before the operator's first status write there is nothing to read: kstatus calls that Current
  // (Argo CD's check says Progressing). The window is the operator's first pass.
  'not-yet-observed': 'Current',
};

test('kstatus: Current only when Ready, InProgress while reconciling, upgrading, rotating or the generation lags, Failed when Stalled, Terminating on deletion', async () => {
  const names = Object.keys(expected);
  assert.deepEqual([...names].sort(), readdirSync(join(argoHealthDir, 'testdata')).map((f) => f.replace(/\.yaml$/, '')).sort(), 'every testdata file has an expected verdict');
  const objects = names.map((name) => parse(readFileSync(join(argoHealthDir, 'testdata', `${name}.yaml`), 'utf8')) as object);
  const verdicts = await kstatus(objects);
  assert.equal(verdicts.length, names.length);
  for (const [i, name] of names.entries()) {
    assert.equal(verdicts[i]!.error, undefined, `${name}: ${verdicts[i]!.error}`);
    assert.equal(verdicts[i]!.status, expected[name], `${name}: ${verdicts[i]!.message}`);
  }
  // Current is reached through Ready=True only, whenever the operator has written status.
  for (const [i, name] of names.entries()) {
    const object = objects[i] as { status?: { conditions?: Array<{ type: string; status: string }> } };
    if (verdicts[i]!.status === 'Current' && object.status) assert.equal(object.status.conditions?.find((c) => c.type === 'Ready')?.status, 'True', name);
  }
});
