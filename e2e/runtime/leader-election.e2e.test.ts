/**
 * Leader election against a real API server: of several candidates exactly one leads, a released
 * lease passes to the standby at once, and when the leader process is killed outright (SIGKILL,
 * no chance to release) the standby takes over once the lease expires — never earlier, so there
 * are never two leaders.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import pino from 'pino';
import { KubeClient, userAgent } from '../../operator/runtime/kube.ts';
import { LeaderElector, type LeaderElectionOptions } from '../../operator/runtime/leader-election.ts';
import { auditEvents, writeVerbs } from '../support/audit.ts';
import { clients, createTestNamespace, eventually } from '../support/kube.ts';

const { kc, core } = clients();
const client = new KubeClient(kc);
const coordination = kc.makeApiClient(CoordinationV1Api);
const silent = pino({ level: 'silent' });
const repositoryRoot = join(import.meta.dirname, '..', '..');
// Short but valid timings: leaseDuration > renewDeadline > 1.2 × retryPeriod.
const timing = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 };

let namespace: string;
const children: ChildProcess[] = [];
const electors: LeaderElector[] = [];

before(async () => {
  namespace = await createTestNamespace(core, 'leader-election');
});
after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(electors.map((e) => e.release()));
  await core.deleteNamespace({ name: namespace });
  await client.close();
});

function candidate(name: string, identity: string, extra: Partial<LeaderElectionOptions> = {}) {
  const elector = new LeaderElector({ client, namespace, name, identity, log: silent, ...timing, ...extra });
  electors.push(elector);
  const log: string[] = [];
  let signal: AbortSignal | undefined;
  const run = elector.run({
    onStartedLeading: (s) => {
      signal = s;
      log.push('started');
    },
    onStoppedLeading: () => log.push('stopped'),
  });
  return { elector, run, log, signal: () => signal };
}

const readLease = (name: string): Promise<V1Lease> => coordination.readNamespacedLease({ namespace, name });
const leaders = (all: Array<{ elector: LeaderElector }>) => all.filter((c) => c.elector.isLeader()).map((c) => c.elector.identity);

/** Polls every 25 ms for `ms`, failing the moment two candidates lead at once. */
async function watchForTwoLeaders(all: Array<{ elector: LeaderElector }>, ms: number, until: () => boolean = () => false): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !until()) {
    const current = leaders(all);
    assert.ok(current.length <= 1, `two leaders at once: ${current.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

test('of two candidates in one process exactly one leads; when it releases, the other leads at once', async (t) => {
  const since = new Date();
  const a = candidate('two-candidates', 'a');
  const b = candidate('two-candidates', 'b');
  const both = [a, b];
  await eventually('a leader', async () => leaders(both).length === 1);
  await watchForTwoLeaders(both, 3_000); // several renewals, no flapping
  const [first] = leaders(both);
  const [leader, standby] = first === 'a' ? [a, b] : [b, a];
  assert.deepEqual(leaders(both), [leader.elector.identity]);
  const before = await readLease('two-candidates');
  assert.equal(before.spec?.holderIdentity, leader.elector.identity);
  assert.equal(before.spec?.leaseDurationSeconds, 3);
  assert.equal(before.spec?.leaseTransitions, 0);
  assert.deepEqual(standby.log, []);

  const releasedAt = Date.now();
  const releasing = leader.elector.release();
  await watchForTwoLeaders(both, 5_000, () => standby.elector.isLeader());
  const tookOverAfter = Date.now() - releasedAt;
  t.diagnostic(`standby led ${tookOverAfter} ms after the release`);
  await releasing;
  assert.equal(await leader.run, 'released');
  assert.deepEqual(leader.log, ['started', 'stopped']);
  assert.equal(leader.signal()?.aborted, true);
  assert.equal(standby.elector.isLeader(), true);
  // At most one retry period (plus jitter and request time), far below the 3 s lease duration.
  assert.ok(tookOverAfter < 1_500, `standby took ${tookOverAfter} ms after the release`);
  const afterTakeover = await readLease('two-candidates');
  assert.equal(afterTakeover.spec?.holderIdentity, standby.elector.identity);
  assert.equal(afterTakeover.spec?.leaseTransitions, 1);
  await standby.elector.release();
  assert.equal(await standby.run, 'released');
  assert.equal((await readLease('two-candidates')).spec?.holderIdentity, undefined, 'released lease has no holder');
  // Lease requests go through our KubeClient, with our user agent (the test's own reads use client-node's).
  const writes = auditEvents(since, (e) => e.objectRef?.resource === 'leases' && e.objectRef.namespace === namespace && e.objectRef.name === 'two-candidates' && writeVerbs.has(e.verb));
  assert.deepEqual([...new Set(writes.map((e) => e.verb))].sort(), ['create', 'update']);
  assert.ok(writes.length >= 6, `a create and renewals (${writes.length} writes)`);
  assert.deepEqual([...new Set(writes.map((e) => e.userAgent))], [userAgent]);
});

test('five candidates starting at once: the API server’s optimistic concurrency lets exactly one win', async () => {
  const all = ['c1', 'c2', 'c3', 'c4', 'c5'].map((id) => candidate('race', id));
  await eventually('a leader', async () => leaders(all).length === 1);
  await watchForTwoLeaders(all, 2_000);
  const [winner] = leaders(all);
  assert.equal((await readLease('race')).spec?.holderIdentity, winner);
  await Promise.all(all.map((c) => c.elector.release()));
  assert.deepEqual(await Promise.all(all.map((c) => c.run)), ['released', 'released', 'released', 'released', 'released']);
});

/** A leader in its own process; prints LEADING once it leads. */
function spawnLeader(leaseName: string, identity: string): { child: ChildProcess; output: () => string } {
  const module = pathToFileURL(join(repositoryRoot, 'operator/runtime/leader-election.ts')).href;
  const kubeModule = pathToFileURL(join(repositoryRoot, 'operator/runtime/kube.ts')).href;
  const script = `
    import pino from 'pino';
    import { KubeClient } from ${JSON.stringify(kubeModule)};
    import { LeaderElector } from ${JSON.stringify(module)};
    const client = await KubeClient.forOperator();
    const { NAMESPACE, LEASE, IDENTITY, TIMING } = process.env;
    const elector = new LeaderElector({ client, namespace: NAMESPACE, name: LEASE, identity: IDENTITY, log: pino({ level: 'silent' }), ...JSON.parse(TIMING) });
    setInterval(() => {}, 60_000); // the elector's timers do not keep a process alive
    await elector.run({ onStartedLeading: () => console.log('LEADING'), onStoppedLeading: () => console.log('STOPPED') });
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repositoryRoot,
    env: { ...process.env, NAMESPACE: namespace, LEASE: leaseName, IDENTITY: identity, TIMING: JSON.stringify(timing) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

test('a leader process killed with SIGKILL is replaced by the standby once the lease expires, not before', async (t) => {
  const leaseName = 'killed-leader';
  const childIdentity = `child-${randomBytes(3).toString('hex')}`;
  const { child, output } = spawnLeader(leaseName, childIdentity);
  await eventually('the child process to lead', async () => {
    if (child.exitCode !== null) throw new Error(`child exited with ${child.exitCode}: ${output()}`);
    return output().includes('LEADING');
  }, 30_000);
  assert.equal((await readLease(leaseName)).spec?.holderIdentity, childIdentity);

  // The standby campaigns while the child leads: it must not take over a lease that is renewed.
  const standby = candidate(leaseName, 'standby');
  await watchForTwoLeaders([standby], 4_000, () => standby.elector.isLeader());
  assert.equal(standby.elector.isLeader(), false, 'the standby took over a live leader’s lease');
  assert.equal((await readLease(leaseName)).spec?.holderIdentity, childIdentity);

  const killedAt = Date.now();
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(child.signalCode, 'SIGKILL');
  const lastRenewal = new Date((await readLease(leaseName)).spec!.renewTime!).getTime();
  assert.ok(!output().includes('STOPPED'), 'killed outright, the child never released');

  await eventually('the standby to lead', async () => standby.elector.isLeader(), 15_000, 25);
  const tookOverAt = Date.now();
  t.diagnostic(`standby led ${tookOverAt - killedAt} ms after the kill, ${tookOverAt - lastRenewal} ms after the last renewal (lease duration ${timing.leaseDurationMs} ms)`);
  // The standby counts leaseDuration from when *it* saw the last renewal, which is after the renewal was written.
  assert.ok(tookOverAt - lastRenewal >= timing.leaseDurationMs - 50, `took over ${tookOverAt - lastRenewal} ms after the last renewal, before the lease expired`);
  assert.ok(tookOverAt - killedAt <= timing.leaseDurationMs + 3 * timing.retryPeriodMs + 1_000, `took over only ${tookOverAt - killedAt} ms after the kill`);
  const lease = await readLease(leaseName);
  assert.equal(lease.spec?.holderIdentity, 'standby');
  assert.equal(lease.spec?.leaseTransitions, 1);
  assert.deepEqual(standby.log, ['started']);
  await standby.elector.release();
  assert.equal(await standby.run, 'released');
});
