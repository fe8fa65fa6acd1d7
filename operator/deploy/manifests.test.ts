import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testDistributionWithCa, testDistributionWithCaAndInjector } from '../../e2e/support/test-distribution.ts';
import { generatedFiles } from './generate-manifests.ts';
import { computeOperatorClusterRole, pluralOf } from './manifests.ts';

test('plurals of the kinds we own follow the API\'s rules', () => {
  const cases = { Deployment: 'deployments', AuthorizationPolicy: 'authorizationpolicies', ServiceEntry: 'serviceentries', Gateway: 'gateways', PodDisruptionBudget: 'poddisruptionbudgets', HTTPRoute: 'httproutes', Proxy: 'proxies', Ingress: 'ingresses' };
  for (const [kind, plural] of Object.entries(cases)) assert.equal(pluralOf(kind), plural, kind);
});

test('the operator\'s ClusterRole covers exactly what the distributions render, with no wildcard', () => {
  const role = computeOperatorClusterRole('op', [testDistributionWithCa]) as unknown as { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> };
  const text = JSON.stringify(role.rules);
  assert.doesNotMatch(text, /"\*"/);
  const core = role.rules.find((r) => r.apiGroups[0] === '' && r.resources.includes('configmaps'));
  assert.deepEqual(core?.resources, ['configmaps', 'namespaces', 'secrets', 'serviceaccounts', 'services']);
  // Pods are the data plane's, never rendered: read only (status.dataPlane), never written.
  const podRules = role.rules.filter((r) => r.resources.includes('pods'));
  assert.deepEqual(podRules.map((r) => [r.resources, r.verbs]), [[['pods'], ['get', 'list', 'watch']]]);
  // Namespaces are patched for enrolment (label and annotation), never created or deleted beyond what the distributions render.
  assert.ok(role.rules.some((r) => r.resources.length === 1 && r.resources[0] === 'namespaces' && r.verbs.join() === 'get,list,patch,watch'));
});

test('the data-plane rollout\'s RBAC: workloads read, patched (never created or deleted), ReplicaSets only read; only where a mesh injects', () => {
  const rulesOf = (distributions: Parameters<typeof computeOperatorClusterRole>[1]) => (computeOperatorClusterRole('op', distributions) as unknown as { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> }).rules;
  const apps = rulesOf([testDistributionWithCaAndInjector]).filter((r) => r.apiGroups.includes('apps'));
  // The test mesh renders a Deployment too (its own rule with the apply verbs); the rollout adds these two.
  const rollout = apps.filter((r) => r.resources.includes('replicasets') || r.verbs.join() === 'patch');
  assert.deepEqual(rollout.map((r) => [r.resources, r.verbs]), [
    [['daemonsets', 'deployments', 'replicasets', 'statefulsets'], ['get', 'list', 'watch']],
    [['daemonsets', 'deployments', 'statefulsets'], ['patch']],
  ]);
  assert.ok(!rulesOf([testDistributionWithCa]).some((r) => r.resources.includes('replicasets')), 'no injector: no rollout, no workload access beyond what is rendered');
});

test('manifests/operator.yaml and the chart\'s RBAC and CRD templates are generated from the code (run npm run generate:manifests)', () => {
  const root = join(import.meta.dirname, '..', '..');
  for (const { file, text } of generatedFiles(root)) assert.equal(readFileSync(join(root, file), 'utf8'), text, file);
});
