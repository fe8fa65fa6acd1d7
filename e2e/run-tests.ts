/**
 * The test command's driver: gives every test one real control plane, then runs node's test
 * runner over the unit tests (`operator/**\/*.test.ts`), the end-to-end tests
 * (`e2e/**\/*.e2e.test.ts`) and the benchmarks' smoke mode (`bench/**\/*.test.ts`).
 *
 * A local cluster is started in a temporary directory and torn down afterwards (also on Ctrl-C,
 * and by a watchdog if this process is killed outright). `MESHWRIGHT_TEST_KUBECONFIG=<file>`
 * points the tests at an existing cluster instead.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startLocalCluster, stopLocalCluster } from './cluster/local-cluster.ts';
import { ensureIstioReferee } from './referee/istio-referee.ts';

const root = join(import.meta.dirname, '..');

/** Test files under `root`, relative, sorted, skipping node_modules. */
function testFiles(): string[] {
  const patterns = [/^operator\/.*\.test\.ts$/, /^e2e\/.*\.e2e\.test\.ts$/, /^bench\/.*\.test\.ts$/];
  const only = process.argv.slice(2);
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((f) => !f.startsWith('node_modules') && patterns.some((p) => p.test(f)))
    .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
    .sort();
}

const files = testFiles();
let kubeconfig = process.env.MESHWRIGHT_TEST_KUBECONFIG;
let auditLog = process.env.MESHWRIGHT_TEST_AUDIT_LOG;
let clusterDir: string | undefined;
const started = Date.now();
// The Istio referee (built once per cache, like the control plane) before any test file asks for it.
if (files.some((f) => f.startsWith('e2e/referee/'))) ensureIstioReferee();
if (!kubeconfig) {
  clusterDir = mkdtempSync(join(tmpdir(), 'meshwright-test-cluster-'));
  const state = await startLocalCluster({ dir: clusterDir, stopWhenProcessExits: process.pid });
  kubeconfig = state.kubeconfig;
  auditLog = state.auditLog;
}
process.stderr.write(`[test] ${files.length} test files against ${kubeconfig} (cluster ready after ${Date.now() - started} ms)\n`);

const child = spawn(process.execPath, [
  '--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=4', '--test-timeout=600000',
  ...files.map((f) => relative(process.cwd(), join(root, f))),
], { stdio: 'inherit', env: { ...process.env, KUBECONFIG: kubeconfig, ...(auditLog ? { MESHWRIGHT_TEST_AUDIT_LOG: auditLog } : {}) } });

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    interrupted = true;
    child.kill(signal);
  });
}
const code = await new Promise<number>((resolveCode) => child.on('exit', (c, s) => resolveCode(c ?? (s ? 1 : 0))));
if (clusterDir) await stopLocalCluster(clusterDir);
process.exit(interrupted ? 130 : code);
