import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { OPERATOR_NODE_FLAGS } from '../deploy/manifests.ts';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'meshwright.mjs');
const run = promisify(execFile);

/** esbuild's metafile: what went into the bundle and what it imports. */
interface Metafile {
  inputs: Record<string, { imports: Array<{ path: string; kind: string; external?: boolean }> }>;
  outputs: Record<string, { imports: Array<{ path: string; kind: string; external?: boolean }> }>;
}

/** Builds the bundle as the command does (`--build-bundle`); its path and metafile. */
async function builtBundle(): Promise<{ file: string; metafile: Metafile }> {
  const { stdout } = await run(process.execPath, [bin, '--build-bundle'], { cwd: root });
  const file = stdout.trim();
  return { file, metafile: JSON.parse(readFileSync(`${file}.meta.json`, 'utf8')) as Metafile };
}

const isBuiltin = (path: string) => path.startsWith('node:') || builtinModules.includes(path);
/** The package an input file of the bundle comes from (undefined: our sources). */
const packageOf = (input: string) => /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1];

test('the bundle holds our sources and the third-party packages; client-node stays out, imported on demand only', async () => {
  const { metafile } = await builtBundle();
  const imports = Object.values(metafile.outputs).flatMap((output) => output.imports).filter((i) => !isBuiltin(i.path));
  // A static import would load client-node's generated API (about 55 MB of RSS) into every operator process.
  assert.deepEqual([...new Set(imports.map((i) => `${i.kind} ${i.path}`))], ['dynamic-import @kubernetes/client-node']);
  const packages = new Set(Object.keys(metafile.inputs).map(packageOf).filter((name) => name !== undefined));
  for (const name of ['pino', 'prom-client', '@peculiar/x509', 'reflect-metadata', '@sinclair/typebox', 'yaml', 'semver']) assert.ok(packages.has(name), `${name} is bundled`);
  // Neither the bundler nor the TypeScript loader is part of what runs.
  for (const name of ['@kubernetes/client-node', 'esbuild', 'tsx', 'typescript']) assert.ok(!packages.has(name), `${name} is not bundled`);
  assert.ok(Object.keys(metafile.inputs).some((input) => input.endsWith('operator/main.ts')));
});

test('`meshwright run` loads no JavaScript but the command and its bundle: nothing from node_modules, no tsx, no client-node', async (t) => {
  const { file } = await builtBundle();
  const dir = mkdtempSync(join(tmpdir(), 'meshwright-bundle-test-'));
  const loaded = join(dir, 'loaded.txt');
  // Every module Node resolves for ES imports, and every file CommonJS loads, recorded as the process runs.
  const hooks = `import { appendFileSync } from 'node:fs';\nexport async function resolve(specifier, context, next) { const result = await next(specifier, context); appendFileSync(${JSON.stringify(loaded)}, result.url + '\\n'); return result; }\n`;
  writeFileSync(join(dir, 'hooks.mjs'), hooks);
  writeFileSync(join(dir, 'record.mjs'), [
    "import { createRequire, register } from 'node:module';",
    "import { appendFileSync } from 'node:fs';",
    `register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});`,
    'const require = createRequire(import.meta.url);',
    `process.on('exit', () => appendFileSync(${JSON.stringify(loaded)}, Object.keys(require.cache).map((f) => 'cjs:' + f + '\\n').join('')));`,
  ].join('\n'));
  // A cluster that is not there: the operator starts, its caches retry, and it stops on SIGTERM.
  writeFileSync(join(dir, 'kubeconfig'), JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'none',
    clusters: [{ name: 'none', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'none', user: { token: 'not-a-token' } }],
    contexts: [{ name: 'none', context: { cluster: 'none', user: 'none' } }],
  }));
  const child = spawn(process.execPath, [...OPERATOR_NODE_FLAGS, '--import', pathToFileURL(join(dir, 'record.mjs')).href, bin, 'run', '--leader-elect=false', '--metrics-address=127.0.0.1:0', '--webhook-port=0', '--log-level=info'], {
    cwd: root, env: { ...process.env, KUBECONFIG: join(dir, 'kubeconfig'), MESHWRIGHT_NO_BUNDLE: '' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  // Past start-up: its caches have tried to list from the missing cluster.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the operator did not start within 30 s; output:\n${output}`)), 30_000);
    const check = () => {
      if (output.includes('meshwright operator starting') && output.includes('list/watch failed')) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        resolve();
      }
    };
    child.stdout.on('data', check);
  });
  child.kill('SIGTERM');
  assert.equal(await exited, 0, output);
  const files = [...new Set(readFileSync(loaded, 'utf8').split('\n').filter((line) => line && !line.startsWith('node:')))].sort();
  assert.deepEqual(files, [pathToFileURL(file).href, pathToFileURL(bin).href].sort());
});

test('every command runs from the bundle, and the tsx fallback (MESHWRIGHT_NO_BUNDLE=1) prints the same', async () => {
  const example = join(root, 'examples', 'istio-minimal.yaml');
  const commands = [['render', '-f', example], ['render', '-f', example, '-o', 'json'], ['plan', '-f', example, '--from', '1.30.4'], ['help']];
  for (const args of commands) {
    const bundled = await run(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, MESHWRIGHT_NO_BUNDLE: '' }, maxBuffer: 64 << 20 });
    assert.equal(bundled.stderr, '', `${args.join(' ')}: no fallback to tsx, no warning`);
    assert.ok(bundled.stdout.length > 100, args.join(' '));
    const fallback = await run(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, MESHWRIGHT_NO_BUNDLE: '1' }, maxBuffer: 64 << 20 });
    assert.equal(fallback.stdout, bundled.stdout, args.join(' '));
  }
  // A command that fails on its input fails the same way from the bundle.
  const failed = await run(process.execPath, [bin, 'render'], { cwd: root }).then(() => undefined, (error: { code: number; stderr: string }) => error);
  assert.equal(failed?.code, 1);
  assert.match(failed?.stderr ?? '', /render needs -f/);
});

test('bin/meshwright.mjs and the chart start Node with the operator\'s flags (OPERATOR_NODE_FLAGS), the same the Deployment sets', () => {
  const firstLine = readFileSync(bin, 'utf8').split('\n')[0];
  assert.equal(firstLine, `#!/usr/bin/env -S node ${OPERATOR_NODE_FLAGS.join(' ')}`);
  assert.ok(OPERATOR_NODE_FLAGS.length > 0);
  // The Deployment passes them in NODE_OPTIONS, where Node refuses to start on most V8 flags (--optimize-for-size among them).
  for (const flag of OPERATOR_NODE_FLAGS) assert.ok(process.allowedNodeEnvironmentFlags.has(flag.split('=')[0]!), `${flag} is allowed in NODE_OPTIONS`);
  const chart = readFileSync(join(root, 'charts', 'meshwright', 'templates', 'deployment.yaml'), 'utf8');
  assert.match(chart, new RegExp(`- name: NODE_OPTIONS\\n\\s+value: "${OPERATOR_NODE_FLAGS.join(' ')}"\\n`));
});
