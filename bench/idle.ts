/**
 * Benchmark 3, idle cost: the requests the operator sends while nothing changes, counted by the
 * API server by client (API Priority and Fairness metrics of FlowSchemas matching the operator's
 * ServiceAccount, see support/requests.ts) and cross-checked with the audit log when there is one.
 * Lease traffic is counted apart: renewing the leader lease is the one write an idle leader makes.
 */
import { LeaderElector, type LeaseClient } from '../operator/runtime/leader-election.ts';
import { auditEvents, writeVerbs } from '../e2e/support/audit.ts';
import type { BenchCluster } from './support/cluster.ts';
import type { BenchOperator } from './support/operator.ts';
import { accountRequests, type RequestCounts } from './support/requests.ts';
import { round } from './support/stats.ts';

/** Settings of {@link benchIdle}. */
export interface IdleOptions {
  id: string;
  operator: BenchOperator;
  /** How long nothing changes while requests are counted. */
  windowMs: number;
  /** Quiet time before the window (the install's last status write and Events). */
  settleMs: number;
  log: (line: string) => void;
}

/** Requests per minute by class. */
export type RequestRates = RequestCounts;

/** What the idle benchmark measured. */
export interface IdleResult {
  windowSeconds: number;
  /** From the API server's APF metrics, per minute. */
  perMinute: RequestRates;
  /** From the audit log, per minute (watches are logged when they end, so they may differ by a few). */
  auditPerMinute?: RequestRates;
  /** Lease renewals a leader makes per minute with the default retry period. */
  expectedLeaseRenewalsPerMinute: number;
  source: string;
}

/** The leader election's default retry period (one renewal each), read from the elector itself. */
export function defaultRetryPeriodMs(): number {
  return new LeaderElector({ leases: {} as LeaseClient, namespace: 'unused', name: 'unused', identity: 'unused' }).retryPeriodMs;
}

const perMinute = (counts: RequestCounts, ms: number): RequestRates => ({
  leaseWrites: round((counts.leaseWrites * 60_000) / ms), leaseReads: round((counts.leaseReads * 60_000) / ms),
  writes: round((counts.writes * 60_000) / ms), reads: round((counts.reads * 60_000) / ms),
});

/** Counts the operator's requests over the window (the mesh must be installed and Ready). */
export async function benchIdle(cluster: BenchCluster, options: IdleOptions): Promise<IdleResult> {
  const accounting = await accountRequests(cluster.admin, options.operator.serviceAccount, options.id);
  try {
    await new Promise((resolve) => setTimeout(resolve, options.settleMs));
    const before = await accounting.read();
    const startedAt = new Date();
    const started = Date.now();
    options.log(`idle: counting the operator's requests for ${options.windowMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, options.windowMs));
    const after = await accounting.read();
    const elapsed = Date.now() - started;
    const delta: RequestCounts = {
      leaseWrites: after.leaseWrites - before.leaseWrites, leaseReads: after.leaseReads - before.leaseReads,
      writes: after.writes - before.writes, reads: after.reads - before.reads,
    };
    let auditPerMinute: RequestRates | undefined;
    if (cluster.auditLog) {
      const until = startedAt.getTime() + elapsed;
      const events = auditEvents(startedAt, (e) => e.user?.username === options.operator.serviceAccount.username && Date.parse(e.stageTimestamp) < until);
      const count = (lease: boolean, write: boolean) => events.filter((e) => (e.objectRef?.resource === 'leases') === lease && writeVerbs.has(e.verb) === write).length;
      auditPerMinute = perMinute({ leaseWrites: count(true, true), leaseReads: count(true, false), writes: count(false, true), reads: count(false, false) }, elapsed);
    }
    return {
      windowSeconds: round(elapsed / 1000), perMinute: perMinute(delta, elapsed), auditPerMinute,
      expectedLeaseRenewalsPerMinute: round(60_000 / defaultRetryPeriodMs()),
      source: 'apiserver_flowcontrol_dispatched_requests_total of FlowSchemas matching the operator\'s ServiceAccount (lease writes, lease reads, other writes, other requests)',
    };
  } finally {
    await accounting.remove();
  }
}
