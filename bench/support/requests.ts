/**
 * Counting one client's requests from the API server's own metrics. API Priority and Fairness
 * attributes every request it dispatches to a FlowSchema
 * (`apiserver_flowcontrol_dispatched_requests_total{flow_schema}`), but that metric has no verb.
 * So four FlowSchemas match the client's ServiceAccount, most specific first: lease writes, lease
 * reads, other writes, everything else (reads, watches, discovery). Their counters are the split.
 */
import type { KubeClient, KubeObject } from '../../operator/runtime/kube.ts';
import { eventually } from '../../e2e/support/kube.ts';
import { writeVerbs } from '../../e2e/support/audit.ts';

const FLOWCONTROL = 'flowcontrol.apiserver.k8s.io/v1';

/** Requests of one client, by class. */
export interface RequestCounts {
  leaseWrites: number;
  leaseReads: number;
  writes: number;
  reads: number;
}

/** The classes, in matching precedence; `verbs` undefined = every verb. */
const classes: Array<{ key: keyof RequestCounts; verbs?: string[]; leases: boolean }> = [
  { key: 'leaseWrites', verbs: [...writeVerbs], leases: true },
  { key: 'leaseReads', leases: true },
  { key: 'writes', verbs: [...writeVerbs], leases: false },
  { key: 'reads', leases: false },
];

/** Accounting for one ServiceAccount; remove() deletes what it installed. */
export interface RequestAccounting {
  read(): Promise<RequestCounts>;
  remove(): Promise<void>;
}

/** The API server's `/metrics` as text (the JSON client's streaming read: the body is not JSON). */
export async function apiServerMetrics(admin: KubeClient): Promise<string> {
  return new Response(await admin.stream('/metrics', new AbortController().signal)).text();
}

/** Sums the dispatched-requests counter per class from Prometheus text. */
export function parseDispatched(text: string, schemas: Map<string, keyof RequestCounts>): RequestCounts {
  const counts: RequestCounts = { leaseWrites: 0, leaseReads: 0, writes: 0, reads: 0 };
  for (const line of text.split('\n')) {
    const match = /^apiserver_flowcontrol_dispatched_requests_total\{([^}]*)\} (\S+)$/.exec(line);
    const schema = match && /flow_schema="([^"]+)"/.exec(match[1]!)?.[1];
    const key = schema && schemas.get(schema);
    if (key) counts[key] += Number(match[2]);
  }
  return counts;
}

/**
 * Installs a dedicated PriorityLevelConfiguration and the four FlowSchemas for `serviceAccount`
 * and waits until the API server uses them (their `Dangling` condition is evaluated).
 */
export async function accountRequests(admin: KubeClient, serviceAccount: { namespace: string; name: string }, id: string): Promise<RequestAccounting> {
  const level = `meshwright-bench-${id}`;
  const subjects = [{ kind: 'ServiceAccount', serviceAccount: { namespace: serviceAccount.namespace, name: serviceAccount.name } }];
  // Limited with queuing and workload-low's shares: the class the operator's ServiceAccount falls into by default.
  const objects: KubeObject[] = [{
    apiVersion: FLOWCONTROL, kind: 'PriorityLevelConfiguration', metadata: { name: level },
    spec: { type: 'Limited', limited: { nominalConcurrencyShares: 100, limitResponse: { type: 'Queue', queuing: { queues: 64, handSize: 6, queueLengthLimit: 50 } } } },
  } as KubeObject];
  const schemas = new Map<string, keyof RequestCounts>();
  classes.forEach(({ key, verbs, leases }, index) => {
    const name = `${level}-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    schemas.set(name, key);
    const resources = leases
      ? { apiGroups: ['coordination.k8s.io'], resources: ['leases'], namespaces: ['*'] }
      : { apiGroups: ['*'], resources: ['*'], clusterScope: true, namespaces: ['*'] };
    objects.push({
      apiVersion: FLOWCONTROL, kind: 'FlowSchema', metadata: { name },
      spec: {
        priorityLevelConfiguration: { name: level },
        matchingPrecedence: 100 + index,
        distinguisherMethod: { type: 'ByUser' },
        rules: [{
          subjects,
          resourceRules: [{ verbs: verbs ?? ['*'], ...resources }],
          ...(verbs || leases ? {} : { nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }] }),
        }],
      },
    } as KubeObject);
  });
  for (const object of objects) await admin.apply(object, { force: true, manager: 'meshwright-bench' });
  await eventually('the FlowSchemas to be in effect', async () => {
    for (const name of schemas.keys()) {
      const schema = await admin.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>({ apiVersion: FLOWCONTROL, kind: 'FlowSchema' }, name);
      if (!schema.status?.conditions?.some((c) => c.type === 'Dangling' && c.status === 'False')) return false;
    }
    return true;
  }, 30_000, 200);
  return {
    read: async () => parseDispatched(await apiServerMetrics(admin), schemas),
    async remove() {
      for (const object of [...objects].reverse()) await admin.delete(object, object.metadata.name).catch(() => undefined);
    },
  };
}
