/**
 * `npm run bench`: starts a throw-away local cluster (or uses `MESHWRIGHT_TEST_KUBECONFIG`), runs
 * the four benchmarks at full scale, prints a table and writes `bench/results/<date>-<commit>.json`.
 * `npm run bench -- --smoke` runs the smoke scale instead (results printed, not written).
 */
import { parseArgs } from 'node:util';
import { openBenchCluster } from './support/cluster.ts';
import { describeMachine, formatTable, writeResults } from './support/report.ts';
import { FULL, runSuite, SMOKE } from './suite.ts';

const { values } = parseArgs({ args: process.argv.slice(2), options: { smoke: { type: 'boolean' } } });
const mode = values.smoke ? 'smoke' : 'full';
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const startedAt = new Date();
// 6 fake nodes of 2,000 pods each hold the memory benchmark's 10,000 pods.
const cluster = await openBenchCluster({ kubeconfig: process.env.MESHWRIGHT_TEST_KUBECONFIG, auditLog: process.env.MESHWRIGHT_TEST_AUDIT_LOG, nodes: 6, log });
let code = 0;
try {
  const results = await runSuite(cluster, values.smoke ? SMOKE : FULL, log);
  const machine = describeMachine(cluster.kubernetesVersion);
  process.stdout.write(`${formatTable(mode, machine, results)}\n`);
  if (!values.smoke) process.stdout.write(`results: ${writeResults(mode, machine, results, startedAt)}\n`);
  log(`done in ${Math.round((Date.now() - startedAt.getTime()) / 1000)} s`);
} catch (error) {
  log(`failed: ${error instanceof Error ? error.stack : String(error)}`);
  code = 1;
} finally {
  await cluster.close();
}
process.exit(code);
