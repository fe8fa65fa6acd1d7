/**
 * The operator's Istio injector on the referee module's own copy of Istio's injection vectors
 * (`pkg/kube/inject/testdata/inject` of the same Istio main-branch snapshot whose templates the
 * referee runs, 2026-08-27: newer than the shared reference the unit test reads), judged by the
 * same table (`operator/distributions/istio/testdata/inject-vectors.ts`, pointed at the module's
 * directory with MESHWRIGHT_ISTIO_VECTORS_DIR): every expected file accounted for, >= 90 % of the
 * in-scope vectors equal; the match rate is printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSummaryLine, runTables, summarize, type ConformanceSubject } from '../../operator/distributions/inject-conformance.ts';
import { istioDistribution } from '../../operator/distributions/istio/index.ts';
import { ensureIstioReferee } from './istio-referee.ts';

const referee = ensureIstioReferee();

test(`the operator's Istio injector on the vectors of istio.io/istio ${referee.version}: every expected file accounted for, >= 90 % of the in-scope vectors equal`, async () => {
  // The table reads its directory when loaded.
  process.env.MESHWRIGHT_ISTIO_VECTORS_DIR = referee.vectors;
  const { injectVectors, unaccountedExpectedFiles, ISTIO_VECTORS_DIR } = await import('../../operator/distributions/istio/testdata/inject-vectors.ts');
  assert.equal(ISTIO_VECTORS_DIR, referee.vectors);
  assert.deepEqual(unaccountedExpectedFiles(), []);
  const subject: ConformanceSubject = { injector: istioDistribution.injector!, resolve: (mi) => istioDistribution.resolve(mi), defaultSpec: { version: istioDistribution.catalog[0]!, namespace: 'istio-system' } };
  const [summary] = summarize(runTables([injectVectors], { istio: subject }));
  process.stderr.write(`[referee vectors] ${formatSummaryLine([summary!])}; ${summary!.outOfScope.length} out of scope\n`);
  for (const d of summary!.different) process.stderr.write(`  differs: ${d.name}: ${d.differences.slice(0, 3).join('; ')}\n`);
  assert.ok(summary!.inScope >= 70, `${summary!.inScope} vectors in scope`);
  assert.ok(summary!.percent >= 90, formatSummaryLine([summary!]));
});
