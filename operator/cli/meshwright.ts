/**
 * The `meshwright` command:
 *   meshwright render -f mi.yaml [-o yaml|json]   objects the operator would apply, offline
 *   meshwright inject -f workload.yaml (--installation mi.yaml | --from-cluster)   workloads with the proxy injected (inject.ts)
 *   meshwright run [operator flags]               the operator (see operator/main.ts for flags)
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { MeshDistribution } from '../distributions/distribution.ts';
import { builtInDistributions } from '../distributions/built-in.ts';
import { optionsFromArgs, runOperator } from '../main.ts';
import { API_VERSION, KIND } from '../api/meshinstallation.ts';
import { isNotFound, KubeClient, type KubeObject } from '../runtime/kube.ts';
import { INJECT_USAGE, injectCommand, InjectInputError, type ClusterReader } from './inject.ts';
import { parseInstallations, renderOffline, RenderInputError, toYaml } from './render.ts';

const usage = `usage:
  meshwright render -f <file|-> [-o yaml|json]   print the objects the operator would apply (no cluster needed)
  meshwright inject -f <file|-> (--installation <mi.yaml> | --from-cluster)   print workloads with the mesh proxy injected
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
function kubeconfigCluster(): { reader: ClusterReader; close: () => Promise<void> } {
  const client = KubeClient.fromDefault();
  const orNothing = async <T>(read: Promise<T>): Promise<T | undefined> => read.catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  const context = client.kc.getContextObject(client.kc.getCurrentContext());
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
  let cluster: ReturnType<typeof kubeconfigCluster> | undefined;
  try {
    const { stdout, notes } = await injectCommand({ ...values, fromCluster: values['from-cluster'] }, {
      distributions: builtInDistributions,
      readFile: (path) => readFileSync(path, 'utf8'),
      cluster: async () => (cluster = kubeconfigCluster()).reader,
    });
    for (const note of notes) process.stderr.write(`note: ${note}\n`);
    process.stdout.write(stdout);
    return 0;
  } finally {
    await cluster?.close();
  }
}

/** Entry point: dispatches a subcommand; exit code 1 with a message on bad input (2 for `inject`'s, as upstream's). */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'render':
        process.stdout.write(renderCommand(rest, builtInDistributions, (path) => readFileSync(path, 'utf8')));
        return 0;
      case 'inject':
        return await runInject(rest);
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
    if (error instanceof InjectInputError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    if (command === 'inject') {
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
