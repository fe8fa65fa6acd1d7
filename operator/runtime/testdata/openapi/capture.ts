/**
 * Captures the OpenAPI v3 documents the list-semantics unit tests read, trimmed to the kinds they
 * use and what those kinds reach, descriptions dropped (everything else exactly as served):
 *
 *   KUBECONFIG=<local cluster> npx tsx operator/runtime/testdata/openapi/capture.ts
 *
 * Run it against the local cluster (`npm run cluster:up`) after a Kubernetes version bump.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeClient } from '../../kube.ts';
import { openApiPath, openApiReader } from '../../schema-registry.ts';

/** The kinds kept, by group/version. */
const wanted: Record<string, string[]> = {
  'rbac.authorization.k8s.io/v1': ['ClusterRoleBinding', 'ClusterRole'],
  'apps/v1': ['Deployment'],
  'admissionregistration.k8s.io/v1': ['ValidatingWebhookConfiguration'],
  v1: ['Service'],
};

type Schema = Record<string, unknown>;

/** `value` without `description` fields, and the component names it refers to. */
function trim(value: unknown, refs: Set<string>): unknown {
  if (Array.isArray(value)) return value.map((item) => trim(item, refs));
  if (typeof value !== 'object' || value === null) return value;
  const out: Schema = {};
  for (const [key, child] of Object.entries(value)) {
    if (key === 'description') continue;
    if (key === '$ref' && typeof child === 'string') refs.add(child.replace('#/components/schemas/', ''));
    out[key] = trim(child, refs);
  }
  return out;
}

const client = await KubeClient.fromDefault();
const read = openApiReader(client);
for (const [apiVersion, kinds] of Object.entries(wanted)) {
  const document = (await read(openApiPath(apiVersion))) as { components: { schemas: Record<string, Schema> } };
  const all = document.components.schemas;
  const roots = Object.keys(all).filter((name) => (all[name]!['x-kubernetes-group-version-kind'] as Array<{ kind: string }> | undefined)?.some((gvk) => kinds.includes(gvk.kind)));
  const kept: Record<string, unknown> = {};
  const pending = [...roots];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (name in kept) continue;
    const refs = new Set<string>();
    kept[name] = trim(all[name], refs);
    pending.push(...refs);
  }
  const sorted = Object.fromEntries(Object.entries(kept).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(join(import.meta.dirname, `${apiVersion.replaceAll('/', '_')}.json`), `${JSON.stringify({ openapi: (document as { openapi?: string }).openapi, components: { schemas: sorted } }, null, 1)}\n`);
}
await client.close();
