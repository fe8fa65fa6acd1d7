/**
 * `meshwright plan`: each case's output against its golden file (testdata/plan/<case>.txt;
 * `UPDATE_GOLDEN=1` rewrites them, a normal run fails on any difference), the exit codes, and the
 * README's Upgrades block against the golden it shows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtInDistributions } from '../distributions/built-in.ts';
import { assertGolden } from '../distributions/golden.ts';
import type { MeshInstallationStatus } from '../api/status.ts';
import { planCommand, PlanInputError, type PlanEnvironment } from './plan.ts';

const TESTDATA = new URL('./testdata/plan/', import.meta.url);
const readFile = (path: string) => readFileSync(path.startsWith('/') ? path : join(TESTDATA.pathname, path), 'utf8');
const offline: PlanEnvironment = { distributions: builtInDistributions, readFile };

/** Each case: its input file, the flags, the exit code; the golden is `<name>.txt`. */
const cases: Array<{ name: string; args: string[]; code: 0 | 2 }> = [
  { name: 'istio-inplace', args: ['-f', 'istio-inplace.yaml', '--from', '1.30.4'], code: 0 },
  { name: 'istio-inplace-two-minors-refused', args: ['-f', 'istio-inplace.yaml', '--from', '1.29.4'], code: 2 },
  { name: 'istio-canary-two-minors', args: ['-f', 'istio-canary.yaml', '--from', '1.29.4'], code: 0 },
  { name: 'istio-nothing-to-do', args: ['-f', 'istio-inplace.yaml', '--from', '1.31.1', '--name', 'mesh'], code: 0 },
  { name: 'istio-downgrade-allowed', args: ['-f', 'istio-downgrade-allowed.yaml', '--from', '1.31.1'], code: 0 },
  { name: 'istio-downgrade-refused', args: ['-f', 'istio-downgrade-allowed.yaml', '--from', '1.31.1'], code: 2 },
  { name: 'linkerd-edge', args: ['-f', 'linkerd-edge.yaml', '--from', 'edge-26.8.1'], code: 0 },
  { name: 'linkerd-stable-to-edge', args: ['-f', 'linkerd-edge.yaml', '--from', '2.20'], code: 0 },
  { name: 'linkerd-edge-to-older-stable-refused', args: ['-f', 'linkerd-stable.yaml', '--from', 'edge-26.8.3'], code: 2 },
];

for (const { name, args, code } of cases) {
  test(`plan ${name}: exit ${code}, output as testdata/plan/${name}.txt`, async () => {
    const env = name === 'istio-downgrade-refused'
      // The same file with allowDowngrade taken out: the only difference from istio-downgrade-allowed.
      ? { ...offline, readFile: (path: string) => readFile(path).replace('    allowDowngrade: true\n', '') }
      : offline;
    const result = await planCommand(args, env);
    assert.equal(result.code, code, result.stdout);
    assertGolden(new URL(`${name}.txt`, TESTDATA), result.stdout);
  });
}

test('plan: a refusal names the allowed versions and the way to the target', async () => {
  const { stdout, code } = await planCommand(['-f', 'istio-inplace.yaml', '--from', '1.29.4'], offline);
  assert.equal(code, 2);
  assert.match(stdout, /Refused \(UnsupportedUpgrade\): .*from 1\.29\.4 in place you can go to 1\.30\.x \(1\.30\.4, 1\.30\.3, 1\.30\.2\); for 1\.31 upgrade to 1\.30 \(1\.30\.4\) first or use strategy: Canary/);
});

test('plan: the images that change are named for each version', async () => {
  const { stdout } = await planCommand(['-f', 'istio-inplace.yaml', '--from', '1.30.4'], offline);
  assert.match(stdout, /docker\.io\/istio\/pilot 1\.30\.4 → 1\.31\.1/);
  assert.match(stdout, /docker\.io\/istio\/proxyv2 1\.30\.4 → 1\.31\.1/);
  assert.match(stdout, /Deployment istio-ingress\/ingress: docker\.io\/istio\/proxyv2:1\.31\.1/);
});

test('plan --from-cluster judges from the live status.version and the proxies\' versions', async () => {
  const live: Record<string, MeshInstallationStatus> = {
    mesh: { version: '1.30.4', dataPlane: { enrolledNamespaces: 1, injectedPods: 3, outdatedPods: 1, proxyVersions: { '1.29.4': 1, '1.30.4': 2 } } },
  };
  const asked: string[] = [];
  const cluster = async () => async (name: string) => {
    asked.push(name);
    return live[name];
  };
  const { stdout, code } = await planCommand(['-f', 'istio-inplace.yaml', '--from-cluster'], { ...offline, cluster });
  assert.deepEqual(asked, ['mesh']);
  assert.equal(code, 2);
  assert.match(stdout, /pods still run 1\.29\.4 proxies/);
  live.mesh!.dataPlane!.proxyVersions = { '1.30.4': 3 };
  assert.equal((await planCommand(['-f', 'istio-inplace.yaml', '--from-cluster'], { ...offline, cluster })).code, 0);
});

test('plan --from-cluster: an installation with no version yet is a first install; a missing one is an input error', async () => {
  const cluster = async () => async (name: string) => (name === 'mesh' ? {} : undefined);
  const first = await planCommand(['-f', 'istio-inplace.yaml', '--from-cluster'], { ...offline, cluster });
  assert.equal(first.code, 0);
  assert.match(first.stdout, /first install/);
  await assert.rejects(planCommand(['-f', 'linkerd-edge.yaml', '--from-cluster'], { ...offline, cluster }), (error: unknown) => error instanceof PlanInputError && /no MeshInstallation linkerd/.test(error.message));
});

test('plan: exactly one of --from and --from-cluster, and -f', async () => {
  await assert.rejects(planCommand(['-f', 'istio-inplace.yaml'], offline), PlanInputError);
  await assert.rejects(planCommand(['-f', 'istio-inplace.yaml', '--from', '1.30.4', '--from-cluster'], offline), PlanInputError);
  await assert.rejects(planCommand(['--from', '1.30.4'], offline), PlanInputError);
  await assert.rejects(planCommand(['-f', 'istio-inplace.yaml', '--from', '1.30.4', '--name', 'other'], offline), /has no MeshInstallation named other/);
});

test('the README shows `meshwright plan` exactly as the code prints it', async () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/<!-- plan-example: (\S+) -->\n```\n\$ meshwright plan -f mi\.yaml (--from \S+)\n([^]*?)```/g)];
  assert.equal(blocks.length, 2, 'README.md has two `meshwright plan` examples marked <!-- plan-example: <case> -->');
  for (const [, name, from, shown] of blocks) {
    const example = cases.find((c) => c.name === name);
    assert.ok(example, `${name} is a case of this test`);
    assert.equal(`--from ${example.args[example.args.indexOf('--from') + 1]}`, from, `${name}: the README's command line`);
    assert.equal(shown, (await planCommand(example.args, offline)).stdout, `${name}: the README's output`);
  }
});
