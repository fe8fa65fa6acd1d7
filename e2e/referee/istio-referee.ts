/**
 * Istio's own code as the referee: the real istiod (`pilot-discovery`) and meshwright's harness
 * around Istio's injector (`e2e/toolchain/istio/inject-harness`), built from the `istio.io/istio`
 * Go module by `e2e/toolchain/build.sh istio` and cached by version beside the Kubernetes binaries.
 * The module's charts (`manifests/`) and injection test vectors (`testdata/inject/`) are copied
 * next to the binaries, so the referee's templates are always the ones of the same version.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Where the referee's pieces are. */
export interface IstioReferee {
  /** The cache directory, named after the module version. */
  dir: string;
  /** The `istio.io/istio` module version (from the directory name). */
  version: string;
  pilotDiscovery: string;
  harness: string;
  /** The module's manifests/ (charts, profiles, injection templates). */
  manifests: string;
  /** The module's pkg/kube/inject/testdata/inject. */
  vectors: string;
}

let built: IstioReferee | undefined;

/**
 * Builds the referee if its cache directory lacks it (a lock in the build script makes concurrent
 * callers build once) and returns where it is. Progress goes to stderr.
 */
export function ensureIstioReferee(): IstioReferee {
  if (built) return built;
  const result = spawnSync('bash', [join(import.meta.dirname, '..', 'toolchain', 'build.sh'), 'istio'], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`building the Istio referee failed (exit ${result.status})`);
  const dir = result.stdout.trim().split('\n').pop() ?? '';
  const referee: IstioReferee = {
    dir,
    version: dir.replace(/^.*\/istio-/, ''),
    pilotDiscovery: join(dir, 'pilot-discovery'),
    harness: join(dir, 'meshwright-istio-inject'),
    manifests: join(dir, 'module', 'manifests'),
    vectors: join(dir, 'module', 'testdata', 'inject'),
  };
  for (const file of [referee.pilotDiscovery, referee.harness, referee.manifests, referee.vectors]) {
    if (!existsSync(file)) throw new Error(`the Istio referee build printed ${dir}, which lacks ${file}`);
  }
  built = referee;
  return referee;
}

/** The injector's settings as istiod reads them: the `istio-sidecar-injector` ConfigMap's config and values, and the mesh config. */
export interface InjectorSettings {
  config: string;
  values: string;
  mesh: string;
}

/** How to run the injector beyond its settings. */
export interface InjectOptions {
  /** The mesh config is complete (no defaults merged under it). */
  meshExact?: boolean;
  /** Native sidecars: `auto` decides from the fake nodes' kubelet versions (v1.33 and v1.34 unless set). */
  nativeSidecars?: 'auto' | 'true' | 'false';
  kubeletVersions?: string[];
  revision?: string;
  /** Extra environment for Istio's feature flags (e.g. COMPLIANCE_POLICY, PLATFORM). */
  env?: Record<string, string>;
  /** Fake Namespaces with annotations, by name (Istio's webhook reads them on OpenShift). */
  namespaceAnnotations?: Record<string, Record<string, string>>;
}

const settingsCache = new Map<string, Promise<InjectorSettings>>();

/**
 * Istio's injector settings from the module's charts, rendered as istioctl renders them (empty
 * profile, pilot component) with `--set` flags and IstioOperator overlay files.
 */
export function chartSettings(referee: IstioReferee, sets: readonly string[] = [], files: readonly string[] = []): Promise<InjectorSettings> {
  const key = JSON.stringify([sets, files]);
  let cached = settingsCache.get(key);
  if (!cached) {
    const args = ['settings', '--manifests', referee.manifests, ...sets.flatMap((s) => ['--set', s]), ...files.flatMap((f) => ['-f', f])];
    cached = execFileAsync(referee.harness, args, { maxBuffer: 64 << 20 }).then(({ stdout }) => JSON.parse(stdout) as InjectorSettings);
    settingsCache.set(key, cached);
  }
  return cached;
}

/** What one run of the harness printed. */
export interface HarnessRun {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Runs the harness with `settings` written to a temporary file and `input` on stdin. */
async function runHarness(referee: IstioReferee, command: string, settings: InjectorSettings, input: string, options: InjectOptions, extra: string[] = []): Promise<HarnessRun> {
  const dir = mkdtempSync(join(tmpdir(), 'meshwright-referee-'));
  try {
    const file = join(dir, 'settings.json');
    writeFileSync(file, JSON.stringify(settings));
    const args = [command, '--settings', file, '--native-sidecars', options.nativeSidecars ?? 'auto', ...extra];
    if (options.meshExact) args.push('--mesh-exact');
    if (options.revision) args.push('--revision', options.revision);
    for (const v of options.kubeletVersions ?? []) args.push('--kubelet-version', v);
    for (const [namespace, annotations] of Object.entries(options.namespaceAnnotations ?? {})) {
      for (const [key, value] of Object.entries(annotations)) args.push('--namespace-annotation', `${namespace}/${key}=${value}`);
    }
    return await new Promise<HarnessRun>((resolveRun) => {
      const child = execFile(referee.harness, [...args, '-'], { maxBuffer: 256 << 20, env: { ...process.env, ...options.env } }, (error, stdout, stderr) => {
        resolveRun({ ok: !error, stdout, stderr });
      });
      child.stdin?.end(input);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `istioctl kube-inject` on `input` (YAML or JSON, several documents allowed): Istio's `IntoResourceFile`. */
export function injectResources(referee: IstioReferee, settings: InjectorSettings, input: string, options: InjectOptions = {}): Promise<HarnessRun> {
  return runHarness(referee, 'inject', settings, input, options);
}

/** One document's outcome from {@link injectEach}. */
export interface EachResult {
  index: number;
  output?: string;
  error?: string;
  warnings?: string[];
}

/** Injects every document of `input` on its own, in one process: a refused document does not stop the others. */
export async function injectEach(referee: IstioReferee, settings: InjectorSettings, input: string, options: InjectOptions = {}): Promise<EachResult[]> {
  const run = await runHarness(referee, 'inject', settings, input, options, ['--each']);
  if (!run.ok) throw new Error(`the harness failed: ${run.stderr.slice(-2000)}`);
  return run.stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as EachResult);
}

/** An AdmissionReview (admission.k8s.io/v1) as far as the tests read it. */
export interface AdmissionReview {
  apiVersion: string;
  kind: string;
  request?: Record<string, unknown>;
  response?: { uid: string; allowed: boolean; patch?: string; patchType?: string; result?: { message?: string } };
}

/** Passes `review` through Istio's real webhook handler (`inject.NewWebhook`) and returns its answer. */
export async function reviewThroughWebhook(referee: IstioReferee, settings: InjectorSettings, review: AdmissionReview, options: InjectOptions = {}): Promise<AdmissionReview> {
  const run = await runHarness(referee, 'review', settings, JSON.stringify(review), options);
  if (!run.ok) throw new Error(`the harness failed: ${run.stderr.slice(-2000)}`);
  return JSON.parse(run.stdout) as AdmissionReview;
}

/** Istio's real webhook handler served by the harness (plain HTTP on a free local port). */
export interface RefereeWebhook {
  /** Sends one AdmissionReview and returns the answer. */
  review(review: AdmissionReview): Promise<AdmissionReview>;
  close(): Promise<void>;
}

/**
 * Starts the harness's `serve` mode with `settings` (one process for many reviews, where
 * {@link reviewThroughWebhook} starts one per review) and resolves once it listens.
 */
export async function startRefereeWebhook(referee: IstioReferee, settings: InjectorSettings, options: InjectOptions = {}): Promise<RefereeWebhook> {
  const dir = mkdtempSync(join(tmpdir(), 'meshwright-referee-'));
  const file = join(dir, 'settings.json');
  writeFileSync(file, JSON.stringify(settings));
  const args = ['serve', '--settings', file, '--addr', '127.0.0.1:0', '--native-sidecars', options.nativeSidecars ?? 'auto'];
  if (options.revision) args.push('--revision', options.revision);
  for (const v of options.kubeletVersions ?? []) args.push('--kubelet-version', v);
  const child = spawn(referee.harness, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000); });
  const address = await new Promise<string>((resolveAddress, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (\S+)/.exec(stdout);
      if (match) resolveAddress(match[1]!);
    });
    child.on('exit', (code) => reject(new Error(`the harness exited (${code}) before listening: ${stderr}`)));
  });
  const exited = new Promise<void>((resolveExit) => child.on('exit', () => resolveExit()));
  return {
    async review(review) {
      const response = await fetch(`http://${address}/inject`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(review) });
      const text = await response.text();
      if (!response.ok) throw new Error(`the referee's webhook answered ${response.status}: ${text}`);
      return JSON.parse(text) as AdmissionReview;
    },
    async close() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
