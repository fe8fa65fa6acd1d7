/**
 * Istio's own injection vectors through meshwright's Istio injector (the table in
 * `../testdata/inject-vectors.ts`, the shared conformance harness's comparison): every expected file
 * of the reference directory is accounted for, at least 90 % of the in-scope vectors are equal, and
 * each out-of-scope vector says why. The match rate is printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSummaryLine, runTables, summarize } from '../../inject-conformance.ts';
import { istioDistribution } from '../index.ts';
import { injectVectors, unaccountedExpectedFiles } from '../testdata/inject-vectors.ts';

const subject = { injector: istioDistribution.injector!, resolve: istioDistribution.resolve, defaultSpec: { version: istioDistribution.catalog[0]!, namespace: 'istio-system' } };

test('every expected file of the Istio vectors is compared or named out of scope', () => {
  assert.deepEqual(unaccountedExpectedFiles(), []);
  assert.ok(injectVectors.vectors.length >= 100, `only ${injectVectors.vectors.length} vectors`);
  for (const v of injectVectors.vectors.filter((x) => x.outOfScope !== undefined)) assert.ok(v.outOfScope!.length > 20, `${v.name} says why it is out of scope`);
});

test('at least 90 % of the in-scope Istio vectors are equal to upstream\'s expected output', () => {
  const [summary] = summarize(runTables([injectVectors], { istio: subject as never }));
  process.stderr.write(`${formatSummaryLine([summary!])}; ${summary!.outOfScope.length} out of scope\n`);
  for (const d of summary!.different) process.stderr.write(`  differs: ${d.name}: ${d.differences.slice(0, 3).join('; ')}\n`);
  assert.ok(summary!.inScope >= 60, `${summary!.inScope} vectors in scope`);
  assert.ok(summary!.percent >= 90, formatSummaryLine([summary!]));
});
