#!/usr/bin/env -S node --max-semi-space-size=4 --v8-pool-size=1
// The package's command. The TypeScript sources run as one JavaScript bundle that esbuild builds
// on first use and again whenever a source changed (kept in node_modules/.cache/meshwright), so no
// build step is needed and none can be forgotten. Why not tsx's loader, as the tests use: its hooks
// run in a thread of their own that holds every module's source a second time, some 30 MB of the
// operator's resident memory for nothing at run time (bench/memory.ts).
// Third-party packages are bundled too, minified (names kept), with one exception: client-node,
// loaded on demand only (CLI commands, exec-plugin kubeconfigs) and never by the operator. Loaded
// from node_modules one by one, the others cost the operator about 8 MB more resident memory
// (module records and wrappers, each package's whole source kept as a string); see bench/README.md.
// `meshwright --build-bundle` builds the bundle and prints its path (an image build runs it, since
// the Deployment's root filesystem is read-only; the tests read its metafile beside it).
// MESHWRIGHT_NO_BUNDLE=1 runs the sources through tsx instead (and so does a failed build).
// The #! line's Node flags are OPERATOR_NODE_FLAGS (operator/deploy/manifests.ts; a test keeps them equal).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';

// The operator's V8 flags that NODE_OPTIONS refuses (so the Deployment cannot pass them), set
// before anything is loaded. --optimize-for-size: V8 grows the old generation by smaller steps
// and collects it sooner — about 11 MB less resident memory idle (bench/README.md).
if (process.argv[2] === 'run') setFlagsFromString('--optimize-for-size');

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'operator', 'cli', 'meshwright.ts');

/** Packages left out of the bundle: imported at run time from node_modules, when at all. */
const EXTERNAL = ['@kubernetes/client-node'];

/**
 * A fingerprint of every source file's path, size and modification time, of this file (it holds
 * the build's options) and of the installed packages: any edit changes it.
 */
function sourcesFingerprint() {
  const hash = createHash('sha256');
  const walk = (dir) => {
    // Code-point order, not localeCompare: ICU's collation data is megabytes of resident memory.
    for (const item of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
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
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  for (const file of ['package.json', 'package-lock.json', join('node_modules', '.package-lock.json')]) {
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
    const { metafile } = await build({
      entryPoints: [entry], outfile: staged, bundle: true, platform: 'node', format: 'esm', target: 'node20',
      external: EXTERNAL, minify: true, keepNames: true, metafile: true, sourcemap: 'linked', sourcesContent: false, logLevel: 'silent',
      // Bundled CommonJS packages require Node's built-ins: an ES module has no `require` of its own.
      banner: { js: "import { createRequire as __meshwrightCreateRequire } from 'node:module'; const require = __meshwrightCreateRequire(import.meta.url);" },
    });
    // What went into the bundle and what it imports (operator/cli/bundle.test.ts reads it).
    writeFileSync(`${staged}.meta.json`, JSON.stringify(metafile));
    renameSync(`${staged}.meta.json`, `${file}.meta.json`);
    renameSync(`${staged}.map`, `${file}.map`);
    renameSync(staged, file);
    rmSync(staging, { recursive: true, force: true });
    return file;
  } catch (error) {
    process.stderr.write(`meshwright: could not bundle the sources (${error instanceof Error ? error.message : String(error)}); running them through tsx\n`);
    return undefined;
  }
}

if (process.argv[2] === '--build-bundle') {
  const built = await bundle();
  if (built) process.stdout.write(`${built}\n`);
  process.exit(built ? 0 : 1);
}
const bundled = await bundle();
let main;
if (bundled) {
  ({ main } = await import(pathToFileURL(bundled).href));
} else {
  // reflect-metadata first: @peculiar/x509 needs the Reflect polyfill when it loads. Third-party
  // packages are plain JavaScript: loaded by Node's own loader before tsx's hooks are registered,
  // they do not pass through the hooks thread too.
  await import('reflect-metadata');
  await Promise.all(['@peculiar/x509', '@sinclair/typebox', '@sinclair/typebox/value', 'pino', 'prom-client', 'semver', 'yaml'].map((name) => import(name)));
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(pathToFileURL(entry).href));
}
const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
