import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { FakeClock } from './clock.ts';
import { KubeApiError, microTime } from './kube.ts';
import { decideLeaseAction, kubernetesLeaseClient, LeaderElector, LeaseConflictError, leaseProblem, LeaseProblemError, nextLeaseSpec, observeLease, releasedLeaseSpec, type Lease, type LeaderElectionOptions, type LeaseClient } from './leader-election.ts';
import { OperatorMetrics } from './metrics.ts';

const silent = pino({ level: 'silent' });
const T0 = Date.parse('2026-01-01T00:00:00Z');

function lease(spec: Lease['spec'], resourceVersion = '1'): Lease {
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: 'ns', resourceVersion }, spec };
}

// ---- the pure decision ----------------------------------------------------------------------

test('decideLeaseAction: create, renew, take a free lease', () => {
  assert.deepEqual(decideLeaseAction(undefined, 'me', T0, T0), { action: 'create' });
  assert.deepEqual(decideLeaseAction(lease({ holderIdentity: 'me', leaseDurationSeconds: 15 }), 'me', T0, T0), { action: 'renew' });
  assert.deepEqual(decideLeaseAction(lease({ holderIdentity: '', leaseDurationSeconds: 1 }), 'me', T0, T0), { action: 'acquire', reason: 'free' });
  assert.deepEqual(decideLeaseAction(lease({ leaseDurationSeconds: 1 }), 'me', T0, T0), { action: 'acquire', reason: 'free' });
});

test('decideLeaseAction: a held lease expires leaseDuration after it was last observed to change', () => {
  const held = lease({ holderIdentity: 'other', leaseDurationSeconds: 15 });
  assert.deepEqual(decideLeaseAction(held, 'me', T0 + 14_999, T0), { action: 'wait', holder: 'other', expiresAt: T0 + 15_000 });
  assert.deepEqual(decideLeaseAction(held, 'me', T0 + 15_000, T0), { action: 'acquire', reason: 'expired', previousHolder: 'other' });
  // Without a duration on the lease, ours applies.
  const noDuration = lease({ holderIdentity: 'other' });
  assert.equal(decideLeaseAction(noDuration, 'me', T0 + 5_000, T0, 6_000).action, 'wait');
  assert.equal(decideLeaseAction(noDuration, 'me', T0 + 6_000, T0, 6_000).action, 'acquire');
});

test('decideLeaseAction ignores renewTime: the holder’s clock may be skewed either way', () => {
  const renewedInTheFuture = lease({ holderIdentity: 'other', leaseDurationSeconds: 15, renewTime: microTime(T0 + 3_600_000) });
  assert.equal(decideLeaseAction(renewedInTheFuture, 'me', T0 + 20_000, T0).action, 'acquire');
  const renewedLongAgo = lease({ holderIdentity: 'other', leaseDurationSeconds: 15, renewTime: microTime(T0 - 3_600_000) });
  assert.equal(decideLeaseAction(renewedLongAgo, 'me', T0 + 1_000, T0).action, 'wait');
});

test('observeLease: only a change of the election record resets the observation time', () => {
  const first = observeLease(undefined, lease({ holderIdentity: 'a', renewTime: '2026-01-01T00:00:00.000000Z' }), T0);
  assert.equal(first.observedAt, T0);
  // The same record read again (even with another resourceVersion, e.g. a label edit): unchanged.
  const same = observeLease(first, lease({ holderIdentity: 'a', renewTime: '2026-01-01T00:00:00Z' }, '2'), T0 + 5_000);
  assert.equal(same.observedAt, T0);
  const renewed = observeLease(same, lease({ holderIdentity: 'a', renewTime: '2026-01-01T00:00:02Z' }, '3'), T0 + 7_000);
  assert.equal(renewed.observedAt, T0 + 7_000);
  const gone = observeLease(renewed, undefined, T0 + 8_000);
  assert.equal(gone.observedAt, T0 + 8_000);
});

test('nextLeaseSpec: renewal keeps acquireTime and transitions, takeover counts one', () => {
  const created = nextLeaseSpec({ action: 'create' }, undefined, 'me', T0, 15_000);
  assert.equal(created.holderIdentity, 'me');
  assert.equal(created.leaseDurationSeconds, 15);
  assert.equal(created.leaseTransitions, 0);
  assert.equal(new Date(created.renewTime!).getTime(), T0);
  assert.equal(JSON.stringify(created.renewTime), '"2026-01-01T00:00:00.000000Z"', 'MicroTime has six fractional digits on the wire');

  const current = { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: microTime(T0), renewTime: microTime(T0), leaseTransitions: 3 };
  const renewed = nextLeaseSpec({ action: 'renew' }, current, 'me', T0 + 2_000, 15_000);
  assert.equal(new Date(renewed.acquireTime!).getTime(), T0);
  assert.equal(new Date(renewed.renewTime!).getTime(), T0 + 2_000);
  assert.equal(renewed.leaseTransitions, 3);

  const taken = nextLeaseSpec({ action: 'acquire', reason: 'expired' }, { ...current, holderIdentity: 'other' }, 'me', T0 + 30_000, 2_500);
  assert.equal(taken.holderIdentity, 'me');
  assert.equal(taken.leaseTransitions, 4);
  assert.equal(taken.leaseDurationSeconds, 3, 'rounded up to whole seconds');
  assert.equal(new Date(taken.acquireTime!).getTime(), T0 + 30_000);

  const released = releasedLeaseSpec(taken, T0 + 40_000);
  assert.equal(released.holderIdentity, undefined);
  assert.equal(released.leaseTransitions, 4);
  assert.equal(decideLeaseAction(lease(released), 'next', T0 + 40_000, T0 + 40_000).action, 'acquire');
});

// ---- the elector, on an in-memory lease store and a fake clock --------------------------------

/** A lease store with the API server's optimistic concurrency; objects cross it as JSON, as on the wire. */
class MemoryLeases {
  private stored: Lease | undefined;
  private version = 0;
  writes = 0;
  history: Array<string | undefined> = [];

  current(): Lease | undefined {
    return this.stored && (JSON.parse(JSON.stringify(this.stored)) as Lease);
  }

  /** A client for one candidate; `mode` lets a test cut that candidate off. */
  client(): LeaseClient & { mode: 'ok' | 'fail' | 'hang' } {
    const gate = async () => {
      await Promise.resolve();
      if (client.mode === 'fail') throw new Error('connection refused');
      if (client.mode === 'hang') await new Promise(() => {});
    };
    const client = {
      mode: 'ok' as 'ok' | 'fail' | 'hang',
      get: async () => {
        await gate();
        return this.current();
      },
      create: async (_ns: string, body: Lease) => {
        await gate();
        if (this.stored) throw new LeaseConflictError('exists');
        return this.write(body);
      },
      replace: async (_ns: string, body: Lease) => {
        await gate();
        if (!this.stored) throw new Error('not found');
        // Like the API server: a replace without resourceVersion is unconditional.
        if (body.metadata?.resourceVersion && body.metadata.resourceVersion !== this.stored.metadata!.resourceVersion) throw new LeaseConflictError('conflict');
        return this.write(body);
      },
    };
    return client;
  }

  /** Overwrites the lease as another writer would (e.g. kubectl). */
  write(body: Lease): Lease {
    this.writes++;
    this.stored = JSON.parse(JSON.stringify({ ...body, metadata: { ...body.metadata, resourceVersion: String(++this.version) } })) as Lease;
    if (this.history.length === 0 || this.history.at(-1) !== this.stored.spec?.holderIdentity) this.history.push(this.stored.spec?.holderIdentity);
    return this.current()!;
  }
}

/** Lets promise chains run (each lease call takes a few microtasks and one macrotask turn). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Advances the clocks in small steps, letting async work run between, and checks `invariant` after each step. */
async function tick(clocks: FakeClock[], ms: number, invariant: () => void = () => {}, step = 50): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    for (const clock of clocks) clock.advance(Math.min(step, ms - done));
    await settle();
    invariant();
  }
}

const timing = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 };

function elector(store: MemoryLeases, identity: string, clock: FakeClock, extra: Partial<LeaderElectionOptions> = {}) {
  const leases = store.client();
  const events: string[] = [];
  let signal: AbortSignal | undefined;
  const e = new LeaderElector({ leases, namespace: 'ns', name: 'l', identity, clock, log: silent, random: () => 0, ...timing, ...extra });
  const callbacks = {
    onStartedLeading(s: AbortSignal) {
      signal = s;
      events.push('started');
    },
    onStoppedLeading() {
      events.push(`stopped(aborted=${signal?.aborted})`);
    },
  };
  return { e, leases, events, callbacks, signal: () => signal };
}

function atMostOneLeader(...candidates: Array<{ e: LeaderElector }>): () => void {
  return () => assert.ok(candidates.filter((c) => c.e.isLeader()).length <= 1, `two leaders: ${candidates.filter((c) => c.e.isLeader()).map((c) => c.e.identity).join(', ')}`);
}

test('a lone candidate creates the lease, leads, and renews every retry period', async () => {
  const clock = new FakeClock(T0);
  const store = new MemoryLeases();
  const metrics = new OperatorMetrics({ processMetrics: false });
  const a = elector(store, 'a', clock, { metrics });
  const outcome = a.e.run(a.callbacks);
  await settle();
  assert.equal(a.e.isLeader(), true);
  assert.deepEqual(a.events, ['started']);
  assert.equal(store.current()!.spec!.holderIdentity, 'a');
  assert.equal(store.current()!.spec!.leaseTransitions, 0);
  assert.equal(await metrics.value('meshwright_leader', { identity: 'a' }), 1);
  const writes = store.writes;
  await tick([clock], 5_000);
  assert.equal(store.writes - writes, 10, 'one renewal per 500 ms');
  assert.equal(new Date(store.current()!.spec!.renewTime!).getTime(), T0 + 5_000);
  assert.equal(new Date(store.current()!.spec!.acquireTime!).getTime(), T0, 'renewals keep acquireTime');
  await a.e.release();
  assert.equal(await outcome, 'released');
  assert.equal(await metrics.value('meshwright_leader', { identity: 'a' }), 0);
});

test('two candidates: exactly one leads; after release the other takes over within a retry period', async () => {
  const clock = new FakeClock(T0);
  const store = new MemoryLeases();
  const a = elector(store, 'a', clock);
  const b = elector(store, 'b', clock);
  const check = atMostOneLeader(a, b);
  const runA = a.e.run(a.callbacks);
  await settle();
  const runB = b.e.run(b.callbacks);
  await tick([clock], 10_000, check);
  assert.deepEqual([a.e.isLeader(), b.e.isLeader()], [true, false]);
  assert.deepEqual(b.events, []);

  const released = a.e.release();
  await settle();
  assert.equal(a.e.isLeader(), false);
  assert.equal(store.current()!.spec!.holderIdentity, undefined, 'holderIdentity cleared');
  await released;
  assert.equal(await runA, 'released');
  assert.deepEqual(a.events, ['started', 'stopped(aborted=true)']);
  await tick([clock], 600, check);
  assert.equal(b.e.isLeader(), true, 'standby took over without waiting for the lease to expire');
  assert.equal(store.current()!.spec!.leaseTransitions, 1);
  assert.deepEqual(store.history, ['a', undefined, 'b']);
  await b.e.release();
  assert.equal(await runB, 'released');
});

for (const existing of [false, true]) {
  test(`candidates racing for ${existing ? 'a released lease' : 'a lease that does not exist yet'}: exactly one wins`, async () => {
    const clock = new FakeClock(T0);
    const store = new MemoryLeases();
    if (existing) store.write(lease(releasedLeaseSpec({ holderIdentity: 'old', leaseTransitions: 4 }, T0)));
    const all = ['a', 'b', 'c', 'd', 'e'].map((id) => elector(store, id, clock));
    // All read the same state before anyone writes, so all decide to take the lease; the
    // resourceVersion on each write (create: the name) lets only the first through.
    const runs = all.map((c) => c.e.run(c.callbacks));
    const check = atMostOneLeader(...all);
    await tick([clock], 10_000, check);
    const leaders = all.filter((c) => c.e.isLeader());
    assert.equal(leaders.length, 1);
    assert.equal(store.current()!.spec!.holderIdentity, leaders[0]!.e.identity);
    assert.deepEqual(store.history, existing ? [undefined, leaders[0]!.e.identity] : [leaders[0]!.e.identity]);
    assert.equal(store.current()!.spec!.leaseTransitions, existing ? 5 : 0);
    await Promise.all(all.map((c) => c.e.release()));
    assert.deepEqual(await Promise.all(runs), ['released', 'released', 'released', 'released', 'released']);
  });
}

for (const mode of ['fail', 'hang'] as const) {
  test(`a leader whose renewals ${mode === 'fail' ? 'fail' : 'never return'} stops at renewDeadline, before the standby takes over`, async () => {
    const clock = new FakeClock(T0);
    const store = new MemoryLeases();
    const a = elector(store, 'a', clock);
    const b = elector(store, 'b', clock);
    const runA = a.e.run(a.callbacks);
    await settle();
    void b.e.run(b.callbacks);
    await tick([clock], 2_000, atMostOneLeader(a, b));
    const lastRenewal = new Date(store.current()!.spec!.renewTime!).getTime();
    a.leases.mode = mode; // the leader is cut off from the API server

    let stoppedAt: number | undefined;
    let tookOverAt: number | undefined;
    await tick([clock], 6_000, () => {
      atMostOneLeader(a, b)();
      if (stoppedAt === undefined && !a.e.isLeader()) stoppedAt = clock.now();
      if (tookOverAt === undefined && b.e.isLeader()) tookOverAt = clock.now();
    });
    assert.equal(await runA, 'lost');
    assert.deepEqual(a.events, ['started', 'stopped(aborted=true)']);
    assert.equal(a.signal()!.aborted, true);
    assert.ok(stoppedAt! <= lastRenewal + timing.renewDeadlineMs, `leader stopped ${stoppedAt! - lastRenewal} ms after its last renewal`);
    assert.ok(tookOverAt! >= lastRenewal + timing.leaseDurationMs, `standby took over ${tookOverAt! - lastRenewal} ms after the last renewal`);
    assert.ok(tookOverAt! <= lastRenewal + timing.leaseDurationMs + 2 * timing.retryPeriodMs, 'and not much later');
    assert.equal(store.current()!.spec!.holderIdentity, 'b');
    assert.equal(store.current()!.spec!.leaseTransitions, 1);
    await b.e.release();
  });
}

test('a standby whose clock is an hour ahead still waits for the lease to expire on its own clock', async () => {
  const leaderClock = new FakeClock(T0);
  const skewedClock = new FakeClock(T0 + 3_600_000);
  const store = new MemoryLeases();
  const a = elector(store, 'a', leaderClock);
  const b = elector(store, 'b', skewedClock);
  void a.e.run(a.callbacks);
  await settle();
  void b.e.run(b.callbacks);
  // renewTime (leader's clock) looks an hour old to b, yet b never takes over a renewed lease.
  await tick([leaderClock, skewedClock], 20_000, atMostOneLeader(a, b));
  assert.deepEqual([a.e.isLeader(), b.e.isLeader()], [true, false]);
  await a.e.release();
  await tick([leaderClock, skewedClock], 1_000);
  assert.equal(b.e.isLeader(), true);
  await b.e.release();
});

test('a leader whose lease another writer took steps down at its next renewal', async () => {
  const clock = new FakeClock(T0);
  const store = new MemoryLeases();
  const a = elector(store, 'a', clock);
  const run = a.e.run(a.callbacks);
  await settle();
  store.write({ ...store.current()!, spec: { ...store.current()!.spec, holderIdentity: 'intruder', renewTime: microTime(clock.now()) } });
  await tick([clock], 600);
  assert.equal(a.e.isLeader(), false);
  assert.equal(await run, 'lost');
  assert.equal(store.current()!.spec!.holderIdentity, 'intruder', 'the new holder is not overwritten');
});

test('release waits for the leader’s work to drain, renewing meanwhile, then gives the lease up', async () => {
  const clock = new FakeClock(T0);
  const store = new MemoryLeases();
  const leases = store.client();
  const order: string[] = [];
  let finishWork: () => void = () => {};
  const e = new LeaderElector({ leases, namespace: 'ns', name: 'l', identity: 'a', clock, log: silent, random: () => 0, ...timing });
  const run = e.run({
    onStartedLeading: (signal) =>
      new Promise<void>((resolve) => {
        signal.addEventListener('abort', () => order.push('aborted'));
        finishWork = () => {
          order.push('work done');
          resolve();
        };
      }),
    onStoppedLeading: () => order.push(`stopped (holder ${store.current()!.spec!.holderIdentity ?? 'none'})`),
  });
  await settle();
  const releasing = e.release();
  await settle();
  assert.deepEqual(order, ['aborted']);
  const writes = store.writes;
  await tick([clock], 5_000);
  assert.equal(e.isLeader(), true, 'still leader while work drains');
  assert.ok(store.writes - writes >= 9, 'and still renewing');
  finishWork();
  await tick([clock], 100);
  await releasing;
  assert.equal(await run, 'released');
  assert.deepEqual(order, ['aborted', 'work done', 'stopped (holder none)']);
});

test('release while campaigning stops without ever leading', async () => {
  const clock = new FakeClock(T0);
  const store = new MemoryLeases();
  const a = elector(store, 'a', clock);
  const b = elector(store, 'b', clock);
  void a.e.run(a.callbacks);
  await settle();
  const runB = b.e.run(b.callbacks);
  await tick([clock], 1_000);
  await b.e.release();
  assert.equal(await runB, 'released');
  assert.deepEqual(b.events, []);
  assert.equal(store.current()!.spec!.holderIdentity, 'a', 'a candidate’s release leaves the leader alone');
  assert.equal(clock.pendingTimers() > 0, true);
  await a.e.release();
  await settle();
  assert.equal(clock.pendingTimers(), 0, 'no timers left behind');
});

test('an elector that lost leadership can campaign again', async () => {
  const clock = new FakeClock(T0);
  const store = new MemoryLeases();
  const a = elector(store, 'a', clock);
  const first = a.e.run(a.callbacks);
  await settle();
  a.leases.mode = 'fail';
  await tick([clock], 3_000);
  assert.equal(await first, 'lost');
  a.leases.mode = 'ok';
  const second = a.e.run(a.callbacks);
  await tick([clock], 500);
  assert.equal(a.e.isLeader(), true, 'the lease still names us, so we renew it at once');
  assert.equal(store.current()!.spec!.leaseTransitions, 0);
  await a.e.release();
  assert.equal(await second, 'released');
  assert.throws(() => {
    void a.e.run(a.callbacks);
    void a.e.run(a.callbacks);
  }, /already running/);
  await a.e.release();
});

test('inconsistent timing is refused', () => {
  const leases = new MemoryLeases().client();
  const base = { leases, namespace: 'ns', name: 'l', identity: 'a' };
  assert.throws(() => new LeaderElector({ ...base, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }), /leaseDurationMs \(10000\) must be greater than renewDeadlineMs/);
  assert.throws(() => new LeaderElector({ ...base, renewDeadlineMs: 2_000, retryPeriodMs: 2_000 }), /renewDeadlineMs \(2000\) must be greater than 1.2 × retryPeriodMs/);
  assert.throws(() => new LeaderElector({ ...base, identity: '' }), /identity must not be empty/);
  assert.throws(() => new LeaderElector({ namespace: 'ns', name: 'l', identity: 'a' }), /either client or leases/);
});

test('a leader renews the lease it last wrote without reading it; a foreign write sends it back to reading', async () => {
  const clock = new FakeClock(T0);
  const store = new MemoryLeases();
  const a = elector(store, 'a', clock);
  let gets = 0;
  const get = a.leases.get;
  a.leases.get = async (...args) => {
    gets++;
    return get(...args);
  };
  void a.e.run(a.callbacks);
  await settle();
  assert.equal(a.e.isLeader(), true);
  const [readsBefore, writesBefore] = [gets, store.writes];
  await tick([clock], 5 * timing.retryPeriodMs);
  assert.equal(store.writes - writesBefore, 5, 'one renewal per retry period');
  assert.equal(gets, readsBefore, 'and no reads');

  // Another writer touches the lease (still ours): the optimistic renewal conflicts, the leader reads and renews.
  store.write({ ...store.current()!, metadata: { ...store.current()!.metadata, annotations: { touched: 'yes' } } });
  await tick([clock], timing.retryPeriodMs);
  assert.equal(gets, readsBefore + 1);
  assert.equal(a.e.isLeader(), true);
  assert.equal(store.current()!.metadata!.annotations?.touched, 'yes', 'the renewal kept the other writer\'s change');
  await a.e.release();
});

// ---- problems that need a person: said once, shown in health() ---------------------------------

test('leaseProblem: a create answered 404 is a missing namespace, a 403 is missing RBAC; other failures are not problems', () => {
  const missing = leaseProblem(new KubeApiError(404, 'NotFound', 'namespaces "mw" not found'), 'create', 'mw', 'meshwright-operator');
  assert.equal(missing?.reason, 'NamespaceNotFound');
  assert.match(missing!.message, /namespace "mw" does not exist/);
  assert.match(missing!.message, /kubectl create namespace mw/);
  assert.match(missing!.message, /--leader-election-namespace/);
  const forbidden = leaseProblem(new KubeApiError(403, 'Forbidden', 'leases is forbidden'), 'update', 'mw', 'l');
  assert.equal(forbidden?.reason, 'Forbidden');
  assert.match(forbidden!.message, /not allowed to update the leader-election Lease mw\/l/);
  assert.equal(leaseProblem(new KubeApiError(404, 'NotFound', 'x'), 'update', 'mw', 'l'), undefined, 'a lease deleted under us is retried, not a problem');
  assert.equal(leaseProblem(new KubeApiError(500, 'InternalError', 'x'), 'create', 'mw', 'l'), undefined);
  assert.equal(leaseProblem(new Error('socket hang up'), 'create', 'mw', 'l'), undefined);
});

test('kubernetesLeaseClient: 404 on get is no lease, 409 a lost race, 404 on create the missing namespace', async () => {
  const fail = (status: number) => async () => {
    throw new KubeApiError(status, 'x', `status ${status}`);
  };
  const client = kubernetesLeaseClient({ get: fail(404), create: fail(404), replace: fail(409) } as never);
  assert.equal(await client.get('mw', 'l'), undefined);
  await assert.rejects(client.create('mw', lease({})), (e: unknown) => e instanceof LeaseProblemError && e.problem.reason === 'NamespaceNotFound');
  await assert.rejects(client.replace('mw', lease({})), LeaseConflictError);
  const sent: Lease[] = [];
  const ok = kubernetesLeaseClient({ create: async (l: Lease) => (sent.push(l), l), replace: async (l: Lease) => (sent.push(l), l) } as never);
  await ok.create('mw', { ...lease({}), apiVersion: '', kind: '' });
  assert.deepEqual([sent[0]!.apiVersion, sent[0]!.kind, sent[0]!.metadata.namespace], ['coordination.k8s.io/v1', 'Lease', 'mw'], 'self-describing, in the namespace asked for');
});

test('a missing lease namespace is logged once, shown by health() until it exists, then the candidate leads', async () => {
  const clock = new FakeClock(T0);
  const store = new MemoryLeases();
  const leases = store.client();
  let namespaceExists = false;
  const create = leases.create;
  leases.create = async (namespace, body) => {
    if (!namespaceExists) throw new LeaseProblemError(leaseProblem(new KubeApiError(404, 'NotFound', `namespaces "${namespace}" not found`), 'create', namespace, 'l')!);
    return create(namespace, body);
  };
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  const e = new LeaderElector({ leases, namespace: 'ns', name: 'l', identity: 'a', clock, log, random: () => 0, ...timing });
  assert.deepEqual(e.health(), { checked: false }, 'not checked before the first round is answered');
  const run = e.run({ onStartedLeading: () => {}, onStoppedLeading: () => {} });
  await settle();
  assert.equal(e.health().checked, true);
  assert.equal(e.health().problem?.reason, 'NamespaceNotFound');
  await tick([clock], 20 * timing.retryPeriodMs);
  assert.equal(e.isLeader(), false);
  const errors = lines.filter((l) => l.level >= 50);
  assert.equal(errors.length, 1, `said once, not every retry: ${JSON.stringify(errors)}`);
  assert.match(errors[0]!.msg, /leader-election namespace "ns" does not exist/);
  assert.equal(lines.filter((l) => l.level === 40).length, 0, 'and no warning per retry either');

  namespaceExists = true;
  await tick([clock], timing.retryPeriodMs * 2);
  assert.equal(e.isLeader(), true, 'the fix takes effect without a restart');
  assert.deepEqual(e.health(), { checked: true });
  assert.equal(lines.filter((l) => /no longer blocked/.test(l.msg)).length, 1);
  await e.release();
  assert.equal(await run, 'released');
});
