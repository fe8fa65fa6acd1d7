/**
 * The mesh the benchmarks install: `examples/istio-minimal.yaml` under a unique name and
 * control-plane namespace, labelled for one benchmark operator; what the operator must apply for
 * it (the offline render plus the CA Secrets); and when an installation counts as observed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { withSpecDefaults } from '../../operator/api/defaults.ts';
import { ConditionType } from '../../operator/api/conditions.ts';
import { API_VERSION, KIND, type DefaultedMeshInstallation } from '../../operator/api/meshinstallation.ts';
import { authoritySettings, CA_STATE_SECRET } from '../../operator/controllers/certificate-authority.ts';
import { INSTALLATION_LABEL, markOwned, releasedLabel, renderOwned } from '../../operator/controllers/ownership.ts';
import { renderOffline } from '../../operator/cli/render.ts';
import { builtInDistributions } from '../../operator/distributions/built-in.ts';
import { createSelfSignedAuthority, encodeAuthorityState, materialOf, type AuthorityState } from '../../operator/pki/authority.ts';
import type { KubeClient, KubeObject, TypeRef } from '../../operator/runtime/kube.ts';
import { eventually } from '../../e2e/support/kube.ts';
import { BENCH_SELECTOR_KEY } from './operator.ts';

/** The MeshInstallation type. */
export const miType: TypeRef = { apiVersion: API_VERSION, kind: KIND };

/** A MeshInstallation as read back, with the status fields the benchmarks look at. */
export type Installation = KubeObject & {
  spec: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string; observedGeneration?: number }>;
    inventory?: Array<{ kind: string; namespace?: string; name: string }>;
  };
};

const example = parse(readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'istio-minimal.yaml'), 'utf8')) as Installation;
const istio = builtInDistributions.find((d) => d.mesh === example.spec.mesh)!;

/** The example as installation `name` in namespace `name`, managed by the operator whose selector is `selector`. */
export function benchInstallation(name: string, selector: string): Installation {
  return {
    ...example,
    metadata: { name, labels: { [BENCH_SELECTOR_KEY]: selector } },
    spec: { ...example.spec, namespace: name },
  };
}

function defaulted(installation: Installation): DefaultedMeshInstallation {
  return { ...installation, spec: withSpecDefaults(installation.spec as never) } as DefaultedMeshInstallation;
}

/** A self-signed CA as the operator creates it for `installation` (same settings, same code). */
export function createAuthority(installation: Installation): Promise<AuthorityState> {
  const mi = defaulted(installation);
  return createSelfSignedAuthority(authoritySettings(mi, istio.certificateAuthority!(mi)), Date.now());
}

/**
 * Every object the operator applies for `installation` with CA `state`, ownership-marked, as the
 * reconciler builds them: the render with CA material, plus the CA state Secret.
 */
export function desiredObjects(installation: Installation, state: AuthorityState): KubeObject[] {
  const mi = defaulted(installation);
  const name = installation.metadata.name;
  const stateSecret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: CA_STATE_SECRET, namespace: mi.spec.namespace }, type: 'Opaque', data: encodeAuthorityState(state) } as KubeObject;
  return [...renderOwned(istio, { installation: mi, resolved: istio.resolve(mi), ca: materialOf(state) }), markOwned(stateSecret, name)];
}

/** `kind/namespace/name` of an object or inventory entry. */
export function objectKey(ref: { kind: string; namespace?: string; metadata?: { name: string; namespace?: string }; name?: string }): string {
  const name = ref.metadata?.name ?? ref.name;
  const namespace = ref.metadata?.namespace ?? ref.namespace ?? '';
  return `${ref.kind}/${namespace}/${name}`;
}

/**
 * "Every object applied and observed": the status lists every expected object in its inventory,
 * for the current generation, and ControlPlaneReady has been evaluated for it (the operator writes
 * both at the end of the pass that applied everything; pods need not be running).
 */
export function isObserved(installation: Installation, expected: ReadonlySet<string>): boolean {
  const status = installation.status;
  const generation = installation.metadata.generation;
  if (!status || status.observedGeneration !== generation) return false;
  if (!status.conditions?.some((c) => c.type === ConditionType.ControlPlaneReady && c.observedGeneration === generation)) return false;
  const inventory = new Set(status.inventory?.map(objectKey));
  return [...expected].every((key) => inventory.has(key));
}

/** Whether the installation is Ready=True for its current generation. */
export function isReady(installation: Installation): boolean {
  return installation.status?.observedGeneration === installation.metadata.generation
    && installation.status?.conditions?.some((c) => c.type === ConditionType.Ready && c.status === 'True') === true;
}

/**
 * Pre-installs the mesh's CRDs (cluster-scoped, shared by every installation) and waits until
 * they are served: the operator's caches of custom kinds then sync at start, and every measured
 * install finds them present (warm), for the operator and the baseline alike.
 */
export async function preinstallMeshCrds(admin: KubeClient): Promise<void> {
  const crds = renderOffline(defaulted(benchInstallation('crd-source', 'none')), builtInDistributions).filter((o) => o.kind === 'CustomResourceDefinition');
  // Released, as an installation deleted before leaves them: made by meshwright, free for the next to adopt.
  for (const crd of crds) await admin.apply({ ...crd, metadata: { name: crd.metadata.name, labels: { [INSTALLATION_LABEL]: releasedLabel('bench') } } }, { force: true, manager: 'meshwright-bench' });
  await eventually('the mesh CRDs to be established', async () => {
    for (const crd of crds) {
      const live = await admin.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>(crd, crd.metadata.name);
      if (!live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return false;
    }
    return true;
  }, 60_000, 200);
}

/** Applies `installation` (as a person would, with its own field manager) and waits for Ready. */
export async function installAndWaitReady(admin: KubeClient, installation: Installation, timeoutMs = 120_000): Promise<void> {
  await admin.apply(installation, { force: true, manager: 'meshwright-bench' });
  await eventually(`${installation.metadata.name} Ready`, async () => isReady(await admin.get<Installation>(miType, installation.metadata.name)), timeoutMs, 250);
}

/** Deletes installations and waits until the operator has removed what they owned and they are gone. */
export async function deleteInstallations(admin: KubeClient, names: readonly string[], timeoutMs = 120_000): Promise<void> {
  await Promise.all(names.map((name) => admin.delete(miType, name)));
  await eventually('the installations to be gone', async () => {
    const { items } = await admin.list(miType);
    return !items.some((mi) => names.includes(mi.metadata.name));
  }, timeoutMs, 500);
}
