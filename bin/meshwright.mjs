#!/usr/bin/env -S node --max-semi-space-size=4
// The package's command. The TypeScript sources run as one JavaScript bundle that esbuild builds
// on first use and again whenever a source changed (kept in node_modules/.cache/meshwright), so no
// build step is needed and none can be forgotten. Why not tsx's loader, as the tests use: its hooks
// run in a thread of their own that holds every module's source a second time, some 30 MB of the
// operator's resident memory for nothing at run time (bench/memory.ts). Third-party packages stay
// outside the bundle, loaded by Node from node_modules as usual.
// MESHWRIGHT_NO_BUNDLE=1 runs the sources through tsx instead (and so does a failed build).
// The #! line's Node flags are OPERATOR_NODE_FLAGS (operator/deploy/manifests.ts; a test keeps them equal).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'operator', 'cli', 'meshwright.ts');

/** A fingerprint of every source file's path, size and modification time: any edit changes it. */
function sourcesFingerprint() {
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const item of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, item.name);
      if (item.isDirectory()) {
        if (item.name !== 'testdata') walk(path);
      } else if (item.name.endsWith('.ts') && !item.name.endsWith('.test.ts')) {
        const { size, mtimeMs } = statSync(path);
        hash.update(`${path}\0${size}\0${mtimeMs}\n`);
      }
    }
  };
  walk(join(root, 'operator'));
  for (const file of ['package.json', 'package-lock.json']) {
    if (existsSync(join(root, file))) hash.update(`${file}\0${statSync(join(root, file)).mtimeMs}\n`);
  }
  hash.update(process.version);
  return hash.digest('hex').slice(0, 16);
}

/** The bundle for the current sources, built now if it does not exist yet; undefined if it cannot be built. */
async function bundle() {
  if (process.env.MESHWRIGHT_NO_BUNDLE === '1') return undefined;
  const dir = join(root, 'node_modules', '.cache', 'meshwright');
  const file = join(dir, `meshwright-${sourcesFingerprint()}.mjs`);
  if (existsSync(file)) return file;
  try {
    const { build } = await import('esbuild');
    mkdirSync(dir, { recursive: true });
    // Several processes may start at once (tests, replicas): each builds its own file and the
    // rename is atomic, so none ever imports a half-written bundle.
    const staging = join(dir, `building-${process.pid}`);
    const staged = join(staging, basename(file));
    await build({
      entryPoints: [entry], outfile: staged, bundle: true, platform: 'node', format: 'esm', target: 'node20',
      packages: 'external', keepNames: true, sourcemap: 'linked', sourcesContent: false, logLevel: 'silent',
    });
    renameSync(`${staged}.map`, `${file}.map`);
    renameSync(staged, file);
    rmSync(staging, { recursive: true, force: true });
    return file;
  } catch (error) {
    process.stderr.write(`meshwright: could not bundle the sources (${error instanceof Error ? error.message : String(error)}); running them through tsx\n`);
    return undefined;
  }
}

// reflect-metadata first: @peculiar/x509 needs the Reflect polyfill when it loads.
await import('reflect-metadata');
const bundled = await bundle();
let main;
if (bundled) {
  ({ main } = await import(pathToFileURL(bundled).href));
} else {
  // Third-party packages are plain JavaScript: loaded by Node's own loader before tsx's hooks are
  // registered, they do not pass through the hooks thread too.
  await Promise.all(['@peculiar/x509', '@sinclair/typebox', '@sinclair/typebox/value', 'pino', 'prom-client', 'semver', 'yaml'].map((name) => import(name)));
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(pathToFileURL(entry).href));
}
const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
