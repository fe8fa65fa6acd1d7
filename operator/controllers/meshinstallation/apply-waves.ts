/**
 * Apply waves: the objects of a pass grouped by what they really wait for, so that an install
 * sends everything that can go together at once instead of one kind after another.
 *
 * What must come first, and why (everything else in a wave is independent of the rest of it):
 * - a Namespace before anything in it (the API server refuses a namespaced object in a namespace
 *   that does not exist); CRDs, PriorityClasses and ClusterRoles need nothing, so they go with it;
 * - a ClusterRoleBinding after the ClusterRoles of its wave, a RoleBinding after the Roles it
 *   names (a binding is checked against the role it grants);
 * - workloads after their ServiceAccounts, RBAC, ConfigMaps, Secrets and Services, so that their
 *   first pods start with everything they mount and may do;
 * - custom resources once their CRDs are served (the executor waits for that: a cold install
 *   creates the CRDs in the first wave), and before the mesh's admission webhooks, which may
 *   validate them;
 * - admission webhooks last: a webhook registered before its server runs would block the API calls
 *   that start it.
 *
 * The runtime's apply order (runtime/apply.ts, used for deletes and by plain clients) stays the
 * finer one; a wave is a union of its consecutive ranks.
 */
import type { KubeObject, TypeRef } from '../../runtime/kube.ts';

/** The wave of each built-in kind; anything else (custom resources) goes with the workloads. */
const WAVE: Record<string, number> = {
  Namespace: 0,
  CustomResourceDefinition: 0,
  PriorityClass: 0,
  ClusterRole: 0,
  ServiceAccount: 1,
  Role: 1,
  Secret: 1,
  ConfigMap: 1,
  Service: 1,
  ClusterRoleBinding: 1,
  RoleBinding: 2,
  Deployment: 3,
  DaemonSet: 3,
  StatefulSet: 3,
  CronJob: 3,
  Job: 3,
  HorizontalPodAutoscaler: 3,
  PodDisruptionBudget: 3,
  MutatingWebhookConfiguration: 4,
  ValidatingWebhookConfiguration: 4,
};
const CUSTOM_RESOURCE_WAVE = 3;

/** Kinds the API server serves without a CRD of ours (every kind of {@link WAVE}). */
export function isBuiltInKind(kind: string): boolean {
  return kind in WAVE;
}

/** The wave `kind` is applied in (0 first). */
export function waveOf(kind: string): number {
  return WAVE[kind] ?? CUSTOM_RESOURCE_WAVE;
}

/** One wave: its number (stable across passes, for timing by wave) and its objects, in the order given. */
export interface Wave<T> {
  wave: number;
  objects: T[];
}

/** `objects` grouped into waves, in wave order; empty waves are left out (pure). */
export function applyWaves<T extends TypeRef>(objects: readonly T[]): Array<Wave<T>> {
  const waves = new Map<number, T[]>();
  for (const object of objects) {
    const wave = waveOf(object.kind);
    waves.set(wave, [...(waves.get(wave) ?? []), object]);
  }
  return [...waves.entries()].sort(([a], [b]) => a - b).map(([wave, members]) => ({ wave, objects: members }));
}

/** The custom kinds among `objects` (one entry per apiVersion/kind): what must be served before they are applied. */
export function customKinds(objects: readonly KubeObject[]): TypeRef[] {
  const kinds = new Map<string, TypeRef>();
  for (const { apiVersion, kind } of objects) if (!isBuiltInKind(kind)) kinds.set(`${apiVersion}/${kind}`, { apiVersion, kind });
  return [...kinds.values()];
}

/**
 * Waits until the API server serves every one of `kinds` (`served` resolves; it rejects with a 404
 * while a CRD created moments ago is not established yet), polling every `intervalMs`, for at most
 * `timeoutMs`; then it stops waiting and lets the apply itself report what is missing. Returns at
 * once when all are served (a warm install, every later pass).
 */
export async function untilServed(kinds: readonly TypeRef[], served: (kind: TypeRef) => Promise<unknown>, options: { intervalMs?: number; timeoutMs?: number; now?: () => number; sleep?: (ms: number) => Promise<void> } = {}): Promise<void> {
  const { intervalMs = 50, timeoutMs = 10_000, now = () => performance.now(), sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)) } = options;
  const deadline = now() + timeoutMs;
  let waiting = [...kinds];
  for (;;) {
    const missing = await Promise.all(waiting.map((kind) => served(kind).then(() => undefined, (error: unknown) => {
      if ((error as { status?: number }).status !== 404) throw error;
      return kind;
    })));
    waiting = missing.filter((kind): kind is TypeRef => kind !== undefined);
    if (waiting.length === 0 || now() >= deadline) return;
    await sleep(intervalMs);
  }
}
