/**
 * Injection conformance: every upstream injection vector of both meshes (the tables in
 * `<mesh>/testdata/inject-vectors.ts`, and any given in MESHWRIGHT_EXTRA_INJECT_VECTORS, see
 * INJECT-VECTORS.md) is compared with what our injector gives, or named out of scope with its
 * reason. Prints the match rate per mesh; at least 90 % of each mesh's in-scope vectors must be equal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  formatSummaryLine, loadVectorTableFile, runTables, summarize, type ConformanceSubject, type InjectVectorTable, type MeshSummary, type VectorResult,
} from './inject-conformance.ts';
import type { Mesh } from '../api/spec.ts';
import type { MeshDistribution } from './distribution.ts';
import { linkerdDistribution } from './linkerd/index.ts';
import { injectVectors as linkerdVectors } from './linkerd/testdata/inject-vectors.ts';

/** Goal of the issue: at least this share of each mesh's in-scope vectors equal upstream's output. */
const GOAL_PERCENT = 90;
/** Where the harness reads additional tables from. */
const EXTRA_TABLES_VARIABLE = 'MESHWRIGHT_EXTRA_INJECT_VECTORS';

function subjectOf(distribution: MeshDistribution): ConformanceSubject | undefined {
  const injector = distribution.injector;
  // The control-plane namespace each mesh installs into by convention.
  const namespace = distribution.mesh === 'istio' ? 'istio-system' : 'linkerd';
  return injector && { injector, resolve: (mi) => distribution.resolve(mi), defaultSpec: { version: distribution.catalog[0]!, namespace } };
}

/**
 * The Istio table and distribution, when the Istio injector and its table exist (they are written
 * alongside this harness): loaded dynamically so this test runs without them.
 */
async function istio(): Promise<{ tables: InjectVectorTable[]; subject?: ConformanceSubject }> {
  const tableFile = new URL('./istio/testdata/inject-vectors.ts', import.meta.url);
  if (!existsSync(fileURLToPath(tableFile))) return { tables: [] };
  const { istioDistribution } = (await import('./istio/index.ts')) as { istioDistribution: MeshDistribution };
  const subject = subjectOf(istioDistribution);
  if (!subject) return { tables: [] };
  const module = (await import(tableFile.href)) as { injectVectors?: InjectVectorTable };
  assert.ok(module.injectVectors, 'istio/testdata/inject-vectors.ts must export injectVectors (an InjectVectorTable, see INJECT-VECTORS.md)');
  return { tables: [module.injectVectors], subject };
}

/** Tables named by MESHWRIGHT_EXTRA_INJECT_VECTORS in `env` (none when unset). */
function extraTables(env: NodeJS.ProcessEnv = process.env): InjectVectorTable[] {
  const path = env[EXTRA_TABLES_VARIABLE];
  return path ? loadVectorTableFile(path) : [];
}

function report(summaries: readonly MeshSummary[]): string {
  const lines = [formatSummaryLine(summaries)];
  for (const s of summaries) {
    if (s.equalWithNamedDifferences.length) {
      lines.push(`  ${s.mesh}: ${s.equalWithNamedDifferences.length} of the equal vectors differ only where the table names the difference: ${s.equalWithNamedDifferences.map((e) => `${e.name} (${e.count})`).join(', ')}`);
    }
    for (const o of s.outOfScope) lines.push(`  out of scope (${s.mesh}) ${o.name}: ${o.reason}`);
    for (const d of s.different) lines.push(`  different (${s.mesh}) ${d.name}:\n    ${d.differences.slice(0, 12).join('\n    ')}${d.differences.length > 12 ? `\n    ... ${d.differences.length - 12} more` : ''}`);
  }
  return lines.join('\n');
}

test(`injection conformance: every upstream vector is compared or out of scope with a reason, and >= ${GOAL_PERCENT} % of each mesh's in-scope vectors are equal`, async () => {
  const linkerd = subjectOf(linkerdDistribution);
  assert.ok(linkerd, 'the Linkerd distribution has an injector');
  const istioPart = await istio();
  const tables = [linkerdVectors, ...istioPart.tables, ...extraTables()];
  const subjects: Partial<Record<Mesh, ConformanceSubject>> = { linkerd, ...(istioPart.subject ? { istio: istioPart.subject } : {}) };
  const results: VectorResult[] = runTables(tables, subjects);
  const summaries = summarize(results);
  console.log(report(summaries));
  // Every row of every table ran (none silently left out for want of a subject).
  assert.equal(results.length, tables.filter((t) => subjects[t.mesh]).reduce((n, t) => n + t.vectors.length, 0));
  assert.ok(summaries.some((s) => s.mesh === 'linkerd' && s.inScope > 0), 'the Linkerd table has in-scope vectors');
  for (const s of summaries) {
    assert.ok(s.percent >= GOAL_PERCENT, `${s.mesh}: ${s.equal}/${s.inScope} in-scope vectors equal (${s.percent.toFixed(1)} %), below the ${GOAL_PERCENT} % goal\n${report([s])}`);
  }
});

test('an extra table from MESHWRIGHT_EXTRA_INJECT_VECTORS (YAML, paths relative to it) is checked the same way: equal, different and out-of-scope rows are told apart', () => {
  const file = fileURLToPath(new URL('./testdata/extra-inject-vectors.yaml', import.meta.url));
  const tables = extraTables({ [EXTRA_TABLES_VARIABLE]: file });
  assert.deepEqual(tables.map((t) => [t.mesh, t.vectors.length]), [['linkerd', 3]]);
  const results = runTables(tables, { linkerd: subjectOf(linkerdDistribution)! });
  const status = Object.fromEntries(results.map((r) => [r.name, r.status]));
  assert.deepEqual(status, { 'extra/pod': 'equal', 'extra/pod-wrong-version-expected': 'different', 'extra/not-ours': 'outOfScope' });
  const different = results.find((r) => r.status === 'different');
  assert.ok(different?.status === 'different' && different.differences.some((d) => d.includes('linkerd.io/proxy-version')), 'the planted difference is found at its path');
  assert.equal(formatSummaryLine(summarize(results)), 'injection conformance: linkerd 1/2 in-scope vectors equal (50.0 %)');
});

test('a malformed extra table, a missing table and a missing vector file are refused with a message naming them', () => {
  const file = fileURLToPath(new URL('./testdata/extra-inject-vectors-bad.yaml', import.meta.url));
  assert.throws(() => extraTables({ [EXTRA_TABLES_VARIABLE]: file }), /extra-inject-vectors-bad\.yaml: vector 0 \(two-verdicts\): exactly one of expected, expectedPatch, expectedError, expectedUnchanged, outOfScope is needed, got expected, outOfScope/);
  assert.throws(() => extraTables({ [EXTRA_TABLES_VARIABLE]: '/nonexistent/table.yaml' }), /injection vector table \/nonexistent\/table\.yaml does not exist/);
  const missingInput: InjectVectorTable = { mesh: 'linkerd', baseDir: '/nonexistent', vectors: [{ name: 'gone', input: 'pod.yaml', expectedUnchanged: true }] };
  assert.throws(() => runTables([missingInput], { linkerd: subjectOf(linkerdDistribution)! }), /^Error: linkerd vector gone: pod\.yaml does not exist \(looked for \/nonexistent\/pod\.yaml\)$/);
});
