/** resolveTarget judges the upgrade path from what runs to spec.version before anything is rendered. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { istioDistribution } from '../../distributions/istio/index.ts';
import { UnsupportedSpecError } from '../../distributions/distribution.ts';
import { resolveTarget } from './resolve.ts';
import { newPassScope, type InstallationObject } from './scope.ts';
import type { MeshInstallationStatus } from '../../api/status.ts';

const clock = { now: () => 0 };
const context = { distributions: new Map([['istio', istioDistribution]]) };

function installation(version: string, status: MeshInstallationStatus | undefined, upgrade: Record<string, unknown> = {}): InstallationObject {
  return {
    apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'mesh', generation: 2 },
    spec: { mesh: 'istio', version, namespace: 'istio-system', upgrade }, status,
  } as unknown as InstallationObject;
}

const scopeOf = (mi: InstallationObject) => newPassScope(mi, pino({ level: 'silent' }), clock as never);

test('a first install is not judged: there is nothing running to move from', () => {
  assert.equal(resolveTarget(scopeOf(installation('1.31.1', undefined)), context).resolved.version, '1.31.1');
});

test('a two-minor in-place jump from status.version is a terminal UnsupportedUpgrade naming the allowed versions', () => {
  assert.throws(() => resolveTarget(scopeOf(installation('1.31.1', { version: '1.29.4' })), context), (error: unknown) => {
    assert.ok(error instanceof UnsupportedSpecError);
    assert.equal(error.reason, 'UnsupportedUpgrade');
    assert.equal(error.terminal, true);
    assert.match(error.message, /from 1\.29\.4 in place you can go to 1\.30\.x \(1\.30\.4, 1\.30\.3, 1\.30\.2\)/);
    return true;
  });
});

test('the same jump with a canary, and a downgrade with allowDowngrade, resolve', () => {
  assert.equal(resolveTarget(scopeOf(installation('1.31.1', { version: '1.29.4' }, { strategy: 'Canary' })), context).resolved.version, '1.31.1');
  assert.equal(resolveTarget(scopeOf(installation('1.30.4', { version: '1.31.1' }, { allowDowngrade: true })), context).resolved.version, '1.30.4');
});

test('before a version was seen running, the last served spec is what runs; the proxies count too', () => {
  const served = { generation: 1, spec: { version: '1.31.1' } };
  assert.throws(() => resolveTarget(scopeOf(installation('1.30.4', { served })), context), /moving from 1\.31\.1 to 1\.30\.4 is a downgrade/);
  const proxies = { version: '1.30.3', dataPlane: { enrolledNamespaces: 1, injectedPods: 2, outdatedPods: 1, proxyVersions: { '1.31.1': 1, '1.30.3': 1 } } };
  assert.throws(() => resolveTarget(scopeOf(installation('1.30.4', proxies)), context), /older than the 1\.31\.1 proxies pods run/);
});

test('a pass serving another spec than the installation\'s (the last served one kept in force) is not judged again', () => {
  const mi = installation('1.31.1', { version: '1.29.4' });
  const fallback = newPassScope(mi, pino({ level: 'silent' }), clock as never, { spec: { ...mi.spec, version: '1.29.4' } as never, status: {}, applied: [] });
  assert.equal(resolveTarget(fallback, context).resolved.version, '1.29.4');
});
