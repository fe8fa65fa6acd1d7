/**
 * `meshwright plan -f mi.yaml (--from VERSION | --from-cluster)`: what the operator would do to take
 * a mesh from the version it runs to the MeshInstallation's spec.version — the steps of the
 * strategy, the images and objects that change — or the refusal it would stall with, and exit 2.
 *
 * The verdict is the reconciler's own (distributions/upgrade-path.ts, the same call resolve.ts
 * makes) and the differences come from rendering both versions offline with `meshwright render`'s
 * path, so the plan says what the operator would do, not a second opinion of it. `--from-cluster`
 * reads the live installation's status (status.version and the proxies' versions), as the
 * operator does; `--from` plans offline from a given version with no proxies known.
 */
import { parseArgs } from 'node:util';
import type { DefaultedMeshInstallation } from '../api/meshinstallation.ts';
import type { MeshInstallationStatus } from '../api/status.ts';
import type { MeshDistribution } from '../distributions/distribution.ts';
import { planUpgradePath, runningVersions, type UpgradePath } from '../distributions/upgrade-path.ts';
import type { KubeObject } from '../runtime/kube.ts';
import { parseInstallations, renderOffline, RenderInputError } from './render.ts';

/** How `plan` is called. */
export const PLAN_USAGE = `usage: meshwright plan -f <file|-> (--from <version> | --from-cluster) [--name <installation>]
  --from <version>   plan offline, as if the mesh ran <version> (no proxy versions known)
  --from-cluster     plan from the live installation of the same name: its status.version and the proxies' versions
exit codes: 0 a plan (or nothing to do), 2 the upgrade is refused or the input is wrong, 1 the cluster could not be read`;

/** Bad input: exit 2 with the message. */
export class PlanInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanInputError';
  }
}

/** The live installation's status, by name (undefined: no such installation; `{}` one without status). */
export type InstallationStatusReader = (name: string) => Promise<MeshInstallationStatus | undefined>;

/** What `plan` needs from its surroundings. */
export interface PlanEnvironment {
  distributions: readonly MeshDistribution[];
  readFile: (path: string) => string;
  /** Connects for `--from-cluster` (only then: loading a kubeconfig is not free). */
  cluster?: () => Promise<InstallationStatusReader>;
}

/** What `plan` prints and how it exits. */
export interface PlanResult {
  stdout: string;
  code: 0 | 2;
}

/** One rendered object's identity, `Kind namespace/name`. */
function idOf(object: KubeObject): string {
  return `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`;
}

/** Images of a workload's pod template, containers and init containers. */
function imagesOf(object: KubeObject): string[] {
  const pod = (object.spec as { template?: { spec?: { containers?: Array<{ image?: string }>; initContainers?: Array<{ image?: string }> } } } | undefined)?.template?.spec;
  return [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])].flatMap((c) => (c.image ? [c.image] : []));
}

/** `repo` of `repo:tag` (a `:` before the last `/` is a registry port). */
function repositoryOf(image: string): string {
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? image.slice(0, colon) : image;
}

/** How the objects of two renders differ, by identity. */
interface RenderDifference {
  added: KubeObject[];
  removed: KubeObject[];
  changed: KubeObject[];
  unchanged: KubeObject[];
}

function difference(before: readonly KubeObject[], after: readonly KubeObject[]): RenderDifference {
  const old = new Map(before.map((o) => [idOf(o), o]));
  const now = new Set(after.map(idOf));
  const result: RenderDifference = { added: [], removed: before.filter((o) => !now.has(idOf(o))), changed: [], unchanged: [] };
  for (const object of after) {
    const previous = old.get(idOf(object));
    if (!previous) result.added.push(object);
    else if (JSON.stringify(previous) === JSON.stringify(object)) result.unchanged.push(object);
    else result.changed.push(object);
  }
  return result;
}

/** Image moves between two renders, by repository: `docker.io/istio/pilot 1.30.4 → 1.31.1`. */
function imageMoves(before: readonly KubeObject[], after: readonly KubeObject[]): string[] {
  const tags = (objects: readonly KubeObject[]) => {
    const byRepository = new Map<string, Set<string>>();
    for (const image of objects.flatMap(imagesOf)) {
      const repository = repositoryOf(image);
      byRepository.set(repository, (byRepository.get(repository) ?? new Set()).add(image.slice(repository.length + 1) || 'latest'));
    }
    return byRepository;
  };
  const [old, now] = [tags(before), tags(after)];
  const moves: string[] = [];
  for (const repository of [...new Set([...old.keys(), ...now.keys()])].sort()) {
    const from = [...(old.get(repository) ?? [])].sort().join(', ') || '(none)';
    const to = [...(now.get(repository) ?? [])].sort().join(', ') || '(none)';
    if (from !== to) moves.push(`${repository} ${from} → ${to}`);
  }
  return moves;
}

/** Which stage of an upgrade applies an object: the mesh CRDs, a gateway's objects, or the control plane. */
function stageOf(object: KubeObject, gatewayNames: ReadonlySet<string>): 'crds' | 'gateways' | 'controlPlane' {
  if (object.kind === 'CustomResourceDefinition') return 'crds';
  return gatewayNames.has(object.metadata.name) ? 'gateways' : 'controlPlane';
}

/** `3 changed, 1 added, 2 removed` (parts that are 0 left out; `no change` when all are). */
function counts(diff: Pick<RenderDifference, 'added' | 'removed' | 'changed'>): string {
  const parts = [[diff.changed.length, 'changed'], [diff.added.length, 'added'], [diff.removed.length, 'removed']].filter(([n]) => n !== 0).map(([n, what]) => `${n} ${what}`);
  return parts.length > 0 ? parts.join(', ') : 'no change';
}

/** The workloads of `objects` with their images, one line each, then the other objects in one line. */
function workloadLines(objects: readonly KubeObject[], indent: string): string[] {
  const workloads = objects.filter((o) => imagesOf(o).length > 0).map((o) => `${indent}${idOf(o)}: ${[...new Set(imagesOf(o))].join(', ')}`);
  const others = objects.filter((o) => imagesOf(o).length === 0).map(idOf);
  return others.length > 0 ? [...workloads, `${indent}also: ${others.join(', ')}`] : workloads;
}

/** Restricts a render difference to one stage. */
function stageDifference(diff: RenderDifference, stage: ReturnType<typeof stageOf>, gateways: ReadonlySet<string>): RenderDifference {
  const keep = (objects: KubeObject[]) => objects.filter((o) => stageOf(o, gateways) === stage);
  return { added: keep(diff.added), removed: keep(diff.removed), changed: keep(diff.changed), unchanged: keep(diff.unchanged) };
}

/** The installation with another version (and nothing else) in its spec. */
function atVersion(installation: DefaultedMeshInstallation, version: string): DefaultedMeshInstallation {
  return { ...installation, spec: { ...installation.spec, version } };
}

/** How the data plane's restarts go, from spec.injection.restartWorkloads. */
function restartWords(installation: DefaultedMeshInstallation): string {
  const { enabled, maxUnavailable, batchInterval } = installation.spec.injection.restartWorkloads;
  if (!enabled) return 'outdated pods are reported, not restarted (spec.injection.restartWorkloads.enabled: false): restart their workloads yourself';
  return `restarted in batches of at most maxUnavailable ${maxUnavailable} pods, batchInterval ${batchInterval} apart, each batch gated on health (pods Ready, no crash loop, rollout progressing)`;
}

/** A canary step's namespaces in words. */
function stepNamespaces(step: { namespaces?: string[]; namespaceSelector?: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] } }): string {
  if (step.namespaces) return `namespaces ${step.namespaces.join(', ')}`;
  const labels = Object.entries(step.namespaceSelector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  const expressions = step.namespaceSelector?.matchExpressions?.length ?? 0;
  return `namespaces selected by ${[...labels, ...(expressions > 0 ? [`${expressions} matchExpressions`] : [])].join(', ') || 'an empty selector (every enrolled namespace)'}`;
}

/**
 * The plan as text: the header, then the numbered steps for the strategy with what changes in each,
 * and the outcome; for a refusal, the operator's message.
 */
export function planText(installation: DefaultedMeshInstallation, from: string, path: UpgradePath, distributions: readonly MeshDistribution[]): string {
  const { spec } = installation;
  const name = installation.metadata.name;
  const header = `meshwright plan: ${spec.mesh} installation ${name}, ${from} → ${spec.version}, strategy ${spec.upgrade.strategy}`;
  if (path.kind === 'none') return `${header}\nNothing to do: the mesh runs ${spec.version} already.\n`;
  if (path.kind === 'refused') {
    return `${header}\nRefused (${path.reason}): ${path.message}.\nThe operator would set Stalled=True with reason ${path.reason} and leave the running mesh as it is.\n`;
  }
  const [hop] = path.steps;
  // A running version this operator's catalog no longer lists cannot be rendered: its side is shown empty.
  const known = distributions.find((d) => d.mesh === spec.mesh)?.catalog.includes(from) ?? false;
  const before = known ? renderOffline(atVersion(installation, from), distributions) : [];
  const after = renderOffline(installation, distributions);
  const diff = difference(before, after);
  const gatewaySpecs = spec.gateways ?? [];
  const gateways = new Set(gatewaySpecs.map((g) => g.name));
  const crds = stageDifference(diff, 'crds', gateways);
  const controlPlane = stageDifference(diff, 'controlPlane', gateways);
  const gatewayDiff = stageDifference(diff, 'gateways', gateways);
  const deadline = `within progressDeadline ${spec.upgrade.progressDeadline}`;
  const lines: string[] = [header];
  if (hop?.direction === 'downgrade') lines.push('This is a downgrade, allowed by spec.upgrade.allowDowngrade: true.');
  if (!known) lines.push(`${from} is not in this operator's catalog: what it runs is not rendered, so everything below counts as added.`);
  lines.push('', 'Images:', ...(imageMoves(before, after).map((move) => `  ${move}`)));
  const notes = distributions.find((d) => d.mesh === spec.mesh)?.upgradeNotes?.(from, spec.version) ?? [];
  if (notes.length > 0) lines.push('', 'What changes:', ...notes.map((note) => `  ${note}`));
  lines.push('', 'Steps:');
  const steps: string[][] = [];
  steps.push([`Mesh CRDs: ${crds.added.length + crds.changed.length + crds.unchanged.length} CustomResourceDefinitions, ${counts(crds)}.`]);
  if (spec.upgrade.strategy === 'InPlace') {
    steps.push([
      `Control plane (objects: ${counts(controlPlane)}): wait until every control-plane workload is rolled out and available, ${deadline}.`,
      ...workloadLines([...controlPlane.changed, ...controlPlane.added], '       '),
      ...controlPlane.removed.map((o) => `       removed: ${idOf(o)}`),
    ]);
    steps.push(gatewaySpecs.length === 0
      ? ['Gateways: none in spec.gateways.']
      : [`Gateways (objects: ${counts(gatewayDiff)}): wait until available, ${deadline}.`, ...workloadLines([...gatewayDiff.changed, ...gatewayDiff.added], '       ')]);
    steps.push([`Data plane: workloads whose pods run a proxy other than ${spec.version} are ${restartWords(installation)}.`]);
  } else {
    const distribution = distributions.find((d) => d.mesh === spec.mesh)!;
    const newRevision = distribution.resolve(installation).revision;
    // The revision of a version the catalog no longer lists cannot be resolved: named by its version.
    const oldRevision = known ? distribution.resolve(atVersion(installation, from)).revision : from;
    // A revision's objects carry its name, gateways too: they are added beside the old revision's and removed with it.
    const revisionDiff = { added: [...controlPlane.added, ...gatewayDiff.added], removed: [...controlPlane.removed, ...gatewayDiff.removed], changed: [...controlPlane.changed, ...gatewayDiff.changed] };
    steps.push([
      `New revision ${newRevision} side by side with ${oldRevision}: ${revisionDiff.added.length} objects added, ${revisionDiff.changed.length} shared ones changed; wait until available, ${deadline}. Revision ${oldRevision} keeps serving every namespace.`,
      ...workloadLines([...revisionDiff.added, ...revisionDiff.changed], '       '),
    ]);
    const canarySteps = spec.upgrade.canary?.steps ?? [];
    if (canarySteps.length === 0) steps.push([`Canary: every enrolled namespace moves to revision ${newRevision} in one step; its workloads are ${restartWords(installation)}.`]);
    canarySteps.forEach((step, index) => {
      steps.push([`Canary step ${index + 1} of ${canarySteps.length}: ${stepNamespaces(step)} move to revision ${newRevision}; their workloads are restarted onto ${spec.version} proxies, gated on health ${deadline}${step.pause ? `; then a pause of ${step.pause}` : ''}.`]);
    });
    const promotion = spec.upgrade.canary?.autoPromote === false
      ? 'waits until spec.upgrade.canary.autoPromote is set to true'
      : 'once every step is healthy (autoPromote: true)';
    steps.push([`Promotion, ${promotion}: revision ${newRevision} becomes the default${canarySteps.length > 0 ? '; enrolled namespaces no step named move and their workloads restart' : ''}.`]);
    steps.push([`Remove revision ${oldRevision} once no namespace or pod uses it: ${revisionDiff.removed.length} objects removed.`]);
  }
  steps.push([`Succeeded: status.version ${spec.version}. ${spec.upgrade.rollbackOnFailure ? `A failed gate rolls back to ${from} (rollbackOnFailure: true).` : 'A failed gate stops the upgrade where it is (rollbackOnFailure: false).'}`]);
  steps.forEach((step, index) => lines.push(`  ${index + 1}. ${step[0]}`, ...step.slice(1)));
  lines.push('', `Objects: ${counts(diff)} of ${after.length} rendered at ${spec.version}.`);
  return `${lines.join('\n')}\n`;
}

/** Runs `plan` with its arguments: the text to print and the exit code. */
export async function planCommand(args: string[], environment: PlanEnvironment): Promise<PlanResult> {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { filename: { type: 'string', short: 'f' }, from: { type: 'string' }, 'from-cluster': { type: 'boolean' }, name: { type: 'string' } } }));
  } catch (error) {
    throw new PlanInputError(`${(error as Error).message}\n${PLAN_USAGE}`);
  }
  if (!values.filename) throw new PlanInputError(`plan needs -f <file> (or -f - for stdin)\n${PLAN_USAGE}`);
  if ((values.from === undefined) === (values['from-cluster'] !== true)) throw new PlanInputError(`plan needs exactly one of --from <version> and --from-cluster\n${PLAN_USAGE}`);
  let installations: DefaultedMeshInstallation[];
  try {
    installations = parseInstallations(environment.readFile(values.filename === '-' ? '/dev/stdin' : values.filename), values.filename);
  } catch (error) {
    throw new PlanInputError(error instanceof RenderInputError ? error.message : `cannot read ${values.filename}: ${(error as Error).message}`);
  }
  const chosen = values.name ? installations.filter((i) => i.metadata.name === values.name) : installations;
  if (chosen.length !== 1) {
    throw new PlanInputError(values.name
      ? `${values.filename} has no MeshInstallation named ${values.name}; it has ${installations.map((i) => i.metadata.name).join(', ')}`
      : `${values.filename} holds ${installations.length} MeshInstallations (${installations.map((i) => i.metadata.name).join(', ')}): choose one with --name`);
  }
  const installation = chosen[0]!;
  const distribution = environment.distributions.find((d) => d.mesh === installation.spec.mesh);
  if (!distribution) throw new PlanInputError(`${installation.metadata.name}: no distribution for mesh "${installation.spec.mesh}"`);
  let status: MeshInstallationStatus;
  if (values.from !== undefined) {
    status = { version: values.from };
  } else {
    if (!environment.cluster) throw new PlanInputError('--from-cluster needs a cluster connection');
    const read = await (await environment.cluster())(String(installation.metadata.name));
    if (!read) throw new PlanInputError(`the cluster has no MeshInstallation ${installation.metadata.name}: plan a first install with meshwright render, or pass --from <version>`);
    status = read;
  }
  const running = runningVersions(status);
  if (!running) {
    return { stdout: `meshwright plan: ${installation.spec.mesh} installation ${installation.metadata.name}: nothing runs yet (no status.version), so ${installation.spec.version} is a first install, not an upgrade: see meshwright render.\n`, code: 0 };
  }
  try {
    distribution.resolve(installation);
  } catch (error) {
    throw new PlanInputError(`${installation.metadata.name}: ${(error as Error).message}`);
  }
  const path = planUpgradePath(distribution, installation, status);
  return { stdout: planText(installation, running.from, path, environment.distributions), code: path.kind === 'refused' ? 2 : 0 };
}
