/**
 * The GitOps tools' own judges, built from their Go modules by e2e/toolchain/build.sh: Helm, and
 * `gitops-referee` (e2e/toolchain/gitops-referee), which runs Argo CD's health engine and kstatus.
 * Each judgement is returned as the tool printed it; the tests decide what is right.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { ensureToolchain } from '../cluster/local-cluster.ts';

const execFileAsync = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

/** The repository root. */
export const repoRoot = root;
/** The chart's folder. */
export const chartDir = join(root, 'charts', 'meshwright');
/** Argo CD's resource customization for MeshInstallation, in Argo's own layout. */
export const argoHealthDir = join(root, 'manifests', 'argocd', 'resource_customizations', 'meshwright.dev', 'MeshInstallation');

let binDir: string | undefined;
function tool(name: string): string {
  binDir ??= ensureToolchain();
  return join(binDir, name);
}

/** Result of running a command: its exit code and output, never thrown. */
export interface CommandResult { code: number; stdout: string; stderr: string }

/** Runs helm with `args`; KUBECONFIG and a private HOME-less config location come from the environment. */
export async function helm(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CommandResult> {
  const config = mkdtempSync(join(tmpdir(), 'meshwright-helm-'));
  try {
    const { stdout, stderr } = await execFileAsync(tool('helm'), args, {
      env: { ...process.env, HELM_CONFIG_HOME: config, HELM_CACHE_HOME: config, HELM_DATA_HOME: config, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(error) };
  }
}

/** One judgement printed by gitops-referee. */
export interface Judgement {
  input: string;
  status?: string;
  message?: string;
  error?: string;
  expected?: { status: string; message: string };
}

async function referee(args: string[]): Promise<Judgement[]> {
  const { stdout } = await execFileAsync(tool('gitops-referee'), args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Judgement);
}

function writeObjects(objects: readonly object[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'meshwright-judged-'));
  return objects.map((object, i) => {
    const file = join(dir, `${i}.yaml`);
    writeFileSync(file, stringify(object));
    return file;
  });
}

/** Argo CD's verdict on each object, with `health.lua` configured as in argocd-cm (no open libraries). */
export async function argoCdHealth(objects: readonly object[], script = join(argoHealthDir, 'health.lua')): Promise<Judgement[]> {
  return referee(['argocd-health', script, ...writeObjects(objects)]);
}

/** Runs `health_test.yaml` of `dir` as Argo CD's TestLuaHealthScript does. */
export async function argoCdHealthTests(dir = argoHealthDir): Promise<Judgement[]> {
  return referee(['argocd-test', dir]);
}

/** kstatus's verdict (`status.Compute`) on each object. */
export async function kstatus(objects: readonly object[]): Promise<Judgement[]> {
  return referee(['kstatus', ...writeObjects(objects)]);
}
