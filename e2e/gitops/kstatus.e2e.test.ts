/**
 * kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status, built from its Go module) on every object in
 * the Argo CD health check's testdata: the captures of a real installation's phases and the
 * hand-written edge cases. What Flux and `kubectl`-adjacent tools conclude from our status.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
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
  // Hand-written.
  'paused-not-ready': 'InProgress',
  upgrading: 'InProgress',
  rotating: 'InProgress',
  'stalled-previous-generation': 'InProgress',
  'deleting-ready': 'Terminating',
  // A rolled-back upgrade as the operator writes it: Stalled=True (UpgradeRolledBack) while spec
  // names the version that does not run.
  'upgrade-rolled-back-stalled': 'Failed',
  // kstatus reads neither a condition's own observedGeneration nor status.upgrade: these are Current
  // on Ready=True (the operator writes every condition with status.observedGeneration, so the first
  // does not arise from it; the second is what operators before the UpgradeRolledBack stall wrote,
  // Degraded only to Argo CD's check).
  'ready-condition-stale': 'Current',
  'upgrade-rolled-back': 'Current',
  'upgrade-failed-superseded': 'Current',
  // Before the operator's first status write there is nothing to read: kstatus calls that Current
  // (Argo CD's check says Progressing). The window is the operator's first pass.
  'not-yet-observed': 'Current',
};

test('kstatus: Current only when Ready, InProgress while reconciling or the generation lags, Failed when Stalled, Terminating on deletion', async () => {
  const names = Object.keys(expected);
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
