/**
 * `npm run bench`: starts a throw-away local cluster (or uses `MESHWRIGHT_TEST_KUBECONFIG`), runs
 * the benchmarks at full scale, prints a table and writes `bench/results/<date>-<commit>.json`.
 * `npm run bench -- --smoke` runs the smoke scale instead (results printed, not written).
 * `--only install,drift` runs the named benchmarks alone (in suite order); their results are
 * written as `<date>-<commit>-partial.json`, marked partial, so no partial run passes for a full one.
 * `--scale-steps 1000` replaces the scale benchmark's steps (namespaces at each, rising); a run
 * with other steps than the is partial too.
 * A full run also regenerates README.md's performance table from its results (readme-table.ts).
 */
import { parseArgs } from 'node:util';
import { openBenchCluster } from './support/cluster.ts';
import { updateReadmeTable } from './readme-table.ts';
import { describeMachine, formatTable, writeResults } from './support/report.ts';
import { BENCHMARKS, FULL, runSuite, selectBenchmarks, SMOKE, withScaleSteps } from './suite.ts';

const { values } = parseArgs({ args: process.argv.slice(2), options: { smoke: { type: 'boolean' }, only: { type: 'string' }, 'scale-steps': { type: 'string' } } });
const mode = values.smoke ? 'smoke' : 'full';
// Checked before a cluster starts: a typo fails at once.
const only = selectBenchmarks(values.only);
const settings = withScaleSteps(values.smoke ? SMOKE : FULL, values['scale-steps']);
const partial = only.size < BENCHMARKS.length || settings !== (values.smoke ? SMOKE : FULL);
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const startedAt = new Date();
// 14 fake nodes of 2,000 pods each: the scale benchmark's 20,000 pods with its webhook bursts and
// the pods other benchmarks leave (it deletes the injected ones first: the memory benchmark's 10,000).
const cluster = await openBenchCluster({ kubeconfig: process.env.MESHWRIGHT_TEST_KUBECONFIG, auditLog: process.env.MESHWRIGHT_TEST_AUDIT_LOG, nodes: 14, log });
let code = 0;
try {
  const results = await runSuite(cluster, settings, log, only);
  const machine = describeMachine(cluster.kubernetesVersion);
  process.stdout.write(`${formatTable(mode, machine, results, partial)}\n`);
  if (!values.smoke) {
    process.stdout.write(`results: ${writeResults(mode, machine, results, startedAt, { partial })}\n`);
    // A full run is the newest full results file now: README's table follows it (commit both together).
    if (!partial) process.stdout.write(`README.md: ${updateReadmeTable()}\n`);
  }
  log(`done in ${Math.round((Date.now() - startedAt.getTime()) / 1000)} s`);
} catch (error) {
  log(`failed: ${error instanceof Error ? error.stack : String(error)}`);
  code = 1;
} finally {
  await cluster.close();
}
process.exit(code);
