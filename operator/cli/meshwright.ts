/**
 * The `meshwright` command:
 *   meshwright render -f mi.yaml [-o yaml|json]   objects the operator would apply, offline
 *   meshwright run [operator flags]               the operator (see operator/main.ts for flags)
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { MeshDistribution } from '../distributions/distribution.ts';
import { builtInDistributions } from '../distributions/built-in.ts';
import { optionsFromArgs, runOperator } from '../main.ts';
import { parseInstallations, renderOffline, RenderInputError, toYaml } from './render.ts';

const usage = `usage:
  meshwright render -f <file|-> [-o yaml|json]   print the objects the operator would apply (no cluster needed)
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

/** Entry point: dispatches a subcommand; exit code 1 with a message on bad input. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'render':
        process.stdout.write(renderCommand(rest, builtInDistributions, (path) => readFileSync(path, 'utf8')));
        return 0;
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
