/**
 * `/readyz` of the operator process (the real main.ts, built-in distributions):
 * - kinds the API server does not serve (a mesh's CRDs before that mesh is installed) do not keep
 *   it from being ready: it is ready within seconds and leads;
 * - a leader-election namespace that does not exist is said once, clearly, and keeps it not ready
 *   with that reason; once the namespace exists it becomes ready and leads, without a restart.
 *
 * Other tests may install the meshes' CRDs on the shared cluster at any time, so the operator here
 * also owns a kind nobody installs: at least one kind is certainly not served.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { builtInDistributions } from '../../operator/distributions/built-in.ts';
import { isNotFound, KubeClient, userAgent, type TypeRef } from '../../operator/runtime/kube.ts';
import { auditEvents } from '../support/audit.ts';
import { eventually, installMeshInstallationCrd, testKubeConfig } from '../support/kube.ts';

const admin = new KubeClient(testKubeConfig(), 'meshwright-e2e-admin');
const run = randomBytes(3).toString('hex');
const repositoryRoot = join(import.meta.dirname, '..', '..');
const phantom: TypeRef = { apiVersion: `readiness-${run}.meshwright.dev/v1`, kind: 'Widget' };
const namespaceType = { apiVersion: 'v1', kind: 'Namespace' };
const namespaces: string[] = [];
const operators: ChildProcess[] = [];

interface LogLine {
  /** The level's label (the operator's logger writes `"level":"error"`). */
  level: string;
  msg: string;
  kind?: string;
}

/** Starts main.ts with the built-in distributions plus the phantom kind; short lease timings. */
function startOperator(identity: string, leaseNamespace: string) {
  const url = (path: string) => JSON.stringify(pathToFileURL(join(repositoryRoot, path)).href);
  const script = `
    import { optionsFromArgs, runOperator } from ${url('operator/main.ts')};
    import { builtInDistributions } from ${url('operator/distributions/built-in.ts')};
    const phantom = JSON.parse(process.env.PHANTOM);
    const distributions = builtInDistributions.map((d, i) => (i === 0 ? { ...d, ownedTypes: [...d.ownedTypes, phantom] } : d));
    const options = optionsFromArgs(JSON.parse(process.env.ARGS), process.env, distributions);
    await runOperator({ ...options, leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500, onListening: (port) => console.log(JSON.stringify({ port })) });
  `;
  const args = [`--identity=${identity}`, `--leader-election-namespace=${leaseNamespace}`, '--metrics-address=127.0.0.1:0',
    `--installation-selector=meshwright.dev/test-run=${run}`, '--log-level=info'];
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repositoryRoot, env: { ...process.env, ARGS: JSON.stringify(args), PHANTOM: JSON.stringify(phantom) }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  operators.push(child);
  const lines: LogLine[] = [];
  const port = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const parsed = JSON.parse(line) as LogLine & { port?: number };
      if (parsed.port !== undefined && parsed.msg === undefined) resolve(parsed.port);
      else lines.push(parsed);
    });
    child.on('exit', (code) => reject(new Error(`operator ${identity} exited with ${code}`)));
  });
  port.catch(() => undefined);
  const readyz = async () => {
    const response = await fetch(`http://127.0.0.1:${await port}/readyz`);
    return { status: response.status, body: await response.text() };
  };
  const stop = async () => {
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, 'graceful shutdown');
  };
  return { port, lines, readyz, stop };
}

/** The owned kinds of the built-in distributions (and the phantom) that the API server does not serve now. */
async function kindsNotServed(): Promise<string[]> {
  const types = [...builtInDistributions.flatMap((d) => d.ownedTypes), phantom];
  const missing: string[] = [];
  for (const type of types) {
    await admin.resourceInfo(type).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
      missing.push(type.kind);
    });
  }
  return [...new Set(missing)];
}

before(async () => {
  await installMeshInstallationCrd(admin);
});

after(async () => {
  for (const child of operators) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const name of namespaces) await admin.delete(namespaceType, name).catch(() => undefined);
  await admin.close();
});

test('kinds that are not served (CRDs of meshes not installed) do not keep /readyz from being ready within seconds', async (t) => {
  const leaseNamespace = `readiness-${run}`;
  namespaces.push(leaseNamespace);
  await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: leaseNamespace } });
  const notServed = await kindsNotServed();
  assert.ok(notServed.includes('Widget'));
  t.diagnostic(`kinds not served: ${notServed.join(', ')}`);

  const operator = startOperator(`readiness-${run}`, leaseNamespace);
  await operator.port;
  const listening = Date.now();
  await eventually('/readyz to answer 200', async () => (await operator.readyz()).status === 200, 15_000, 100);
  const readyAfter = Date.now() - listening;
  t.diagnostic(`ready ${readyAfter} ms after the HTTP server listened`);
  // Before the fix it never became ready at all; the schemas of the owned kinds now load first (seconds on a busy machine).
  assert.ok(readyAfter < 10_000, `ready only after ${readyAfter} ms`);
  assert.deepEqual(await operator.readyz(), { status: 200, body: 'ok\n' });

  // Every kind that was not served was seen as such (said once each), and is watched for meanwhile.
  const reported = operator.lines.filter((l) => /kind not served yet/.test(l.msg)).map((l) => l.kind!);
  for (const kind of notServed) assert.equal(reported.filter((k) => k === kind).length, 1, `${kind} reported once: ${reported.join(', ')}`);
  await eventually('the operator to lead', async () => operator.lines.some((l) => /became leader/.test(l.msg)), 15_000, 100);
  assert.equal((await operator.readyz()).status, 200, 'still ready while leading');
  await operator.stop();
});

test('a leader-election namespace that does not exist: said once, /readyz not ready with that reason; created, the operator leads', async () => {
  const leaseNamespace = `readiness-missing-${run}`;
  namespaces.push(leaseNamespace);
  const since = new Date();
  const operator = startOperator(`readiness-missing-${run}`, leaseNamespace);

  const notReady = await eventually('/readyz to name the missing namespace', async () => {
    const answer = await operator.readyz();
    return answer.body.includes(leaseNamespace) ? answer : undefined;
  }, 15_000, 100);
  assert.equal(notReady.status, 503);
  const lines = notReady.body.trimEnd().split('\n');
  assert.equal(lines.length, 1, `the missing namespace is the only reason (the caches synced): ${notReady.body}`);
  assert.match(lines[0]!, new RegExp(`namespace "${leaseNamespace}" does not exist`));
  assert.match(lines[0]!, new RegExp(`kubectl create namespace ${leaseNamespace}`));
  assert.match(lines[0]!, /--leader-election-namespace/);

  // Let it retry several times (counted by the API server), then check it said so only once.
  const failedCreates = () => auditEvents(since, (e) => e.objectRef?.resource === 'leases' && e.objectRef.namespace === leaseNamespace && e.verb === 'create' && e.responseStatus?.code === 404);
  await eventually('several attempts to create the lease', async () => failedCreates().length >= 4, 20_000, 100);
  const said = operator.lines.filter((l) => l.msg.includes(`"${leaseNamespace}" does not exist`));
  assert.equal(said.length, 1, `said once, not at every retry: ${said.length} times`);
  assert.equal(said[0]!.level, 'error');
  assert.deepEqual(operator.lines.filter((l) => l.level === 'warn' && /lease/.test(l.msg)).map((l) => l.msg), [], 'and no lease warning at every retry');
  assert.equal((await operator.readyz()).status, 503);
  assert.ok(!operator.lines.some((l) => /became leader/.test(l.msg)), 'no lease, no reconciling');

  await admin.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: leaseNamespace } });
  await eventually('/readyz to answer 200 once the namespace exists', async () => (await operator.readyz()).status === 200, 15_000, 100);
  await eventually('the operator to lead', async () => operator.lines.some((l) => /became leader/.test(l.msg)), 15_000, 100);
  assert.equal(operator.lines.filter((l) => /no longer blocked/.test(l.msg)).length, 1);

  // Lease requests went through the operator's own client: its user agent on every one.
  const leaseRequests = () => auditEvents(since, (e) => e.objectRef?.resource === 'leases' && e.objectRef.namespace === leaseNamespace);
  await eventually('a lease renewal', async () => leaseRequests().some((e) => e.verb === 'update'), 10_000, 100);
  assert.deepEqual([...new Set(leaseRequests().map((e) => e.verb))].sort(), ['create', 'get', 'update']);
  assert.deepEqual([...new Set(leaseRequests().map((e) => e.userAgent))], [userAgent]);
  await operator.stop();
});
