/**
 * The `meshwright` command:
 *   meshwright render -f mi.yaml [-o yaml|json]   objects the operator would apply, offline
 *   meshwright inject -f workload.yaml (--installation mi.yaml | --from-cluster)   workloads with the proxy injected (inject.ts)
 *   meshwright status [NAME] [-o text|json]     each installation's control plane, CA, data plane and rollout (status.ts)
 *   meshwright plan -f mi.yaml (--from VERSION | --from-cluster)   the upgrade the operator would run, or its refusal (plan.ts)
 *   meshwright run [operator flags]               the operator (see operator/main.ts for flags)
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { MeshDistribution } from '../distributions/distribution.ts';
import { builtInDistributions } from '../distributions/built-in.ts';
import { optionsFromArgs, runOperator } from '../main.ts';
import { API_VERSION, KIND } from '../api/meshinstallation.ts';
import type { MeshInstallationStatus } from '../api/status.ts';
import type { EventObject } from '../runtime/events.ts';
import { isNotFound, KubeClient, type KubeObject } from '../runtime/kube.ts';
import { INJECT_USAGE, injectCommand, InjectInputError, type ClusterReader } from './inject.ts';
import { planCommand, PlanInputError } from './plan.ts';
import { parseInstallations, renderOffline, RenderInputError, toYaml } from './render.ts';
import { statusCommand, type StatusFlags, type StatusInstallation, type StatusSource } from './status.ts';

const usage = `usage:
  meshwright render -f <file|-> [-o yaml|json]   print the objects the operator would apply (no cluster needed)
  meshwright inject -f <file|-> (--installation <mi.yaml> | --from-cluster)   print workloads with the mesh proxy injected
  meshwright status [NAME] [-o text|json] [-w] [--no-color]   each installation's control plane, CA, data plane and rollout; exit 0 when all are Ready
  meshwright plan -f <file|-> (--from <version> | --from-cluster)   the upgrade steps the operator would take, or its refusal (exit 2)
  meshwright run [--metrics-address=:8080] [--leader-elect=true] [--log-level=info] ...   run the operator`;

/** Runs `render`; returns the text to print. */
export function renderCommand(args: string[], distributions: readonly MeshDistribution[], readFile: (path: string) => string): string {
  const { values } = parseArgs({ args, options: { filename: { type: 'string', short: 'f' }, output: { type: 'string', short: 'o' } } });
  if (!values.filename) throw new RenderInputError(`render needs -f <file> (or -f - for stdin)\n${usage}`);
  const output = values.output ?? 'yaml';
  if (output !== 'yaml' && output !== 'json') throw new RenderInputError(`-o must be yaml or json, got "${output}"`);
  let text: string;
  try {
    text = readFile(values.filename === '-' ? '/dev/stdin' : values.filename);
  } catch (error) {
    throw new RenderInputError(`cannot read ${values.filename}: ${(error as Error).message}`);
  }
  const installations = parseInstallations(text, values.filename);
  if (output === 'json') {
    const items = installations.flatMap((installation) => renderOffline(installation, distributions));
    return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items }, null, 2)}\n`;
  }
  return installations.map((installation) => toYaml(installation, renderOffline(installation, distributions))).join('');
}

/** `--from-cluster`'s reads, through the default kubeconfig resolution (KUBECONFIG, ~/.kube/config). */
async function kubeconfigCluster(): Promise<{ reader: ClusterReader; close: () => Promise<void> }> {
  const client = await KubeClient.fromDefault();
  const orNothing = async <T>(read: Promise<T>): Promise<T | undefined> => read.catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  const context = client.kc?.getContextObject(client.kc.getCurrentContext());
  return {
    reader: {
      installations: async () => (await client.list({ apiVersion: API_VERSION, kind: KIND })).items,
      namespace: (name) => orNothing(client.get({ apiVersion: 'v1', kind: 'Namespace' }, name)),
      get: (kind, name, namespace) => orNothing(client.get<KubeObject>({ apiVersion: 'v1', kind }, name, namespace)),
      contextNamespace: context?.namespace,
    },
    close: () => client.close(),
  };
}

/**
 * `status`'s reads through the kubeconfig (`--kubeconfig`/`--context`, else KUBECONFIG, ~/.kube/config,
 * in-cluster): one LIST of MeshInstallations, and one of the Events about them.
 */
export async function kubeconfigStatusSource(flags: Pick<StatusFlags, 'kubeconfig' | 'context' | 'name'>, env: NodeJS.ProcessEnv = process.env): Promise<StatusSource & { close(): Promise<void> }> {
  // Loaded only when `status` runs: the other commands, the operator among them, need not pay for it.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (flags.kubeconfig) {
    try {
      kc.loadFromFile(flags.kubeconfig);
    } catch (error) {
      throw new Error(`cannot read the kubeconfig ${flags.kubeconfig}: ${(error as Error).message}`);
    }
  } else {
    try {
      kc.loadFromDefault();
    } catch (error) {
      throw new Error(`cannot read the kubeconfig (KUBECONFIG=${env.KUBECONFIG ?? ''}): ${(error as Error).message}`);
    }
    // client-node's last resort when it finds no kubeconfig and no service account: http://localhost:8080.
    if (!env.KUBECONFIG && kc.getCurrentContext() === 'loaded-context' && kc.getCurrentCluster()?.server === 'http://localhost:8080') {
      throw new Error('no kubeconfig found: set KUBECONFIG, create ~/.kube/config, or pass --kubeconfig <file>');
    }
  }
  if (flags.context) {
    if (!kc.getContextObject(flags.context)) throw new Error(`context "${flags.context}" is not in the kubeconfig; it has: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'}`);
    kc.setCurrentContext(flags.context);
  }
  // Its own user agent: the API server's audit log tells a person's `status` from the operator's reads.
  const client = new KubeClient(kc, 'meshwright-cli/0.1.0');
  // Events about cluster-scoped objects live in "default" (see runtime/events.ts).
  const fieldSelector = ['regarding.kind=MeshInstallation', ...(flags.name ? [`regarding.name=${flags.name}`] : [])].join(',');
  return {
    cluster: { context: kc.getCurrentContext(), server: kc.getCurrentCluster()?.server ?? '(no server)' },
    installations: async () => (await client.list({ apiVersion: API_VERSION, kind: KIND })).items as unknown as StatusInstallation[],
    events: async () => (await client.list<EventObject>({ apiVersion: 'events.k8s.io/v1', kind: 'Event' }, { namespace: 'default', fieldSelector })).items.map((event) => ({
      installation: event.regarding?.name ?? '',
      type: event.type,
      reason: event.reason,
      note: event.note ?? '',
      time: event.series?.lastObservedTime ?? event.eventTime ?? event.metadata.creationTimestamp ?? '',
      count: event.series?.count,
    })),
    close: () => client.close(),
  };
}

/** Runs `status`: the report on stdout, notes and errors on stderr; the exit code of status.ts. */
async function runStatus(args: string[]): Promise<number> {
  let source: Awaited<ReturnType<typeof kubeconfigStatusSource>> | undefined;
  try {
    const result = await statusCommand(args, {
      connect: async (flags) => (source = await kubeconfigStatusSource(flags)),
      now: () => new Date(),
      isTTY: process.stdout.isTTY === true,
      columns: process.stdout.columns,
      env: process.env,
      write: (text, stream = 'stdout') => process[stream].write(text),
    });
    process.stderr.write(result.stderr);
    process.stdout.write(result.stdout);
    return result.code;
  } finally {
    await source?.close();
  }
}

/** Runs `inject` with its flags; bad input exits 2 (InjectInputError), as upstream's inject commands do. */
async function runInject(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args, options: {
      filename: { type: 'string', short: 'f' }, installation: { type: 'string' }, 'from-cluster': { type: 'boolean' },
      name: { type: 'string' }, namespace: { type: 'string', short: 'n' }, output: { type: 'string', short: 'o' },
    } }));
  } catch (error) {
    throw new InjectInputError(`${(error as Error).message}\n${INJECT_USAGE}`);
  }
  let cluster: Awaited<ReturnType<typeof kubeconfigCluster>> | undefined;
  try {
    const { stdout, notes } = await injectCommand({ ...values, fromCluster: values['from-cluster'] }, {
      distributions: builtInDistributions,
      readFile: (path) => readFileSync(path, 'utf8'),
      cluster: async () => (cluster = await kubeconfigCluster()).reader,
    });
    for (const note of notes) process.stderr.write(`note: ${note}\n`);
    process.stdout.write(stdout);
    return 0;
  } finally {
    await cluster?.close();
  }
}

/** Runs `plan`: the plan on stdout; exit 2 for a refused upgrade (and bad input, see main). */
async function runPlan(args: string[]): Promise<number> {
  let client: KubeClient | undefined;
  try {
    const { stdout, code } = await planCommand(args, {
      distributions: builtInDistributions,
      readFile: (path) => readFileSync(path, 'utf8'),
      cluster: async () => {
        client = await KubeClient.fromDefault();
        const connected = client;
        return async (name) => {
          const found = await connected.get<KubeObject & { status?: MeshInstallationStatus }>({ apiVersion: API_VERSION, kind: KIND }, name).catch((error: unknown) => {
            if (isNotFound(error)) return undefined;
            throw error;
          });
          return found ? (found.status ?? {}) : undefined;
        };
      },
    });
    process.stdout.write(stdout);
    return code;
  } finally {
    await client?.close();
  }
}

/** Entry point: dispatches a subcommand; exit code 1 with a message on bad input (2 for `inject`'s, as upstream's, and for `status`'s usage, see status.ts). */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'render':
        process.stdout.write(renderCommand(rest, builtInDistributions, (path) => readFileSync(path, 'utf8')));
        return 0;
      case 'inject':
        return await runInject(rest);
      case 'status':
        return await runStatus(rest);
      case 'plan':
        return await runPlan(rest);
      case 'run':
        await runOperator(optionsFromArgs(rest, process.env, builtInDistributions));
        return -1; // keeps running until a signal
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${usage}\n`);
        return command === undefined ? 1 : 0;
      default:
        process.stderr.write(`unknown command "${command}"\n${usage}\n`);
        return 1;
    }
  } catch (error) {
    if (error instanceof InjectInputError || error instanceof PlanInputError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    if (command === 'inject' || command === 'plan') {
      // Not the input: the cluster could not be read (unreachable, forbidden...).
      process.stderr.write(`error: reading the cluster failed: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    }
    if (error instanceof RenderInputError || (error instanceof Error && error.name === 'TypeError' && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`error: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const code = await main(process.argv.slice(2));
  if (code >= 0) process.exitCode = code;
}
