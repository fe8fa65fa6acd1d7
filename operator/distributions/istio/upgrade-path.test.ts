/** Table tests of Istio's upgrade skew rules (upgrade-path.ts) against the shipped catalog. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ISTIO_CATALOG } from './catalog.ts';
import { istioUpgradeNotes, istioUpgradePath } from './upgrade-path.ts';
import type { UpgradePathRequest } from '../upgrade-path.ts';

type Row = {
  name: string;
  request: Partial<UpgradePathRequest> & Pick<UpgradePathRequest, 'from' | 'to'>;
  /** `none`, `upgrade`, `downgrade` (an allowed path in that direction), or a refusal's message parts. */
  expect: 'none' | 'upgrade' | 'downgrade' | { refused: readonly string[] };
};

const rows: Row[] = [
  { name: 'the same version is no move', request: { from: '1.30.4', to: '1.30.4' }, expect: 'none' },
  { name: 'a later patch in place', request: { from: '1.30.2', to: '1.30.4' }, expect: 'upgrade' },
  { name: 'one minor in place', request: { from: '1.29.4', to: '1.30.4' }, expect: 'upgrade' },
  { name: 'one minor in place from an older patch to an older patch', request: { from: '1.29.3', to: '1.30.2' }, expect: 'upgrade' },
  {
    name: 'two minors in place: refused, naming the one-minor targets and both ways to 1.31',
    request: { from: '1.29.4', to: '1.31.1' },
    expect: { refused: ['in place Istio moves at most one minor at a time, but 1.29 → 1.31 is 2', 'from 1.29.4 in place you can go to 1.30.x (1.30.4, 1.30.3, 1.30.2)', 'for 1.31 upgrade to 1.30 (1.30.4) first or use strategy: Canary'] },
  },
  {
    name: 'two minors in place from an older patch also names its later patches',
    request: { from: '1.29.3', to: '1.31.0' },
    expect: { refused: ['from 1.29.3 in place you can go to 1.30.x (1.30.4, 1.30.3, 1.30.2) or the 1.29 patches (1.29.4)'] },
  },
  { name: 'two minors with a canary', request: { from: '1.29.4', to: '1.31.1', strategy: 'Canary' }, expect: 'upgrade' },
  { name: 'one minor with a canary', request: { from: '1.30.4', to: '1.31.0', strategy: 'Canary' }, expect: 'upgrade' },
  {
    name: 'three minors with a canary: refused, naming the minor to go through',
    request: { from: '1.28.6', to: '1.31.1', strategy: 'Canary' },
    expect: { refused: ['with strategy: Canary Istio moves at most 2 minors at a time, but 1.28 → 1.31 is 3', 'from 1.28.6 with strategy: Canary you can go to 1.30.x (1.30.4, 1.30.3, 1.30.2) or 1.29.x (1.29.4, 1.29.3)', 'for 1.31 upgrade to 1.30 (1.30.4) first'] },
  },
  {
    name: 'a patch downgrade: refused, naming allowDowngrade',
    request: { from: '1.30.4', to: '1.30.3' },
    expect: { refused: ['moving from 1.30.4 to 1.30.3 is a downgrade', 'from 1.30.4 in place you can go to 1.31.x (1.31.1, 1.31.0)', 'set spec.upgrade.allowDowngrade: true to downgrade anyway'] },
  },
  {
    name: 'a minor downgrade from the newest version: nothing else is allowed',
    request: { from: '1.31.1', to: '1.30.4' },
    expect: { refused: ['moving from 1.31.1 to 1.30.4 is a downgrade', 'from 1.31.1 in place no other version of this operator\'s catalog is allowed: keep spec.version at 1.31.1', 'allowDowngrade: true'] },
  },
  { name: 'a minor downgrade with allowDowngrade', request: { from: '1.31.1', to: '1.30.4', allowDowngrade: true }, expect: 'downgrade' },
  { name: 'a patch downgrade with allowDowngrade', request: { from: '1.30.4', to: '1.30.2', allowDowngrade: true }, expect: 'downgrade' },
  {
    name: 'a two-minor downgrade in place with allowDowngrade still obeys the skew',
    request: { from: '1.31.1', to: '1.29.4', allowDowngrade: true },
    expect: { refused: ['in place Istio moves at most one minor at a time, but 1.31 → 1.29 is 2', 'for 1.29 downgrade to 1.30 (1.30.4) first or use strategy: Canary'] },
  },
  { name: 'a two-minor downgrade with a canary and allowDowngrade', request: { from: '1.31.1', to: '1.29.4', allowDowngrade: true, strategy: 'Canary' }, expect: 'downgrade' },
  {
    name: 'the control plane never older than the data plane: a target below a running proxy is a downgrade',
    request: { from: '1.30.3', to: '1.30.4', proxyVersions: ['1.30.3', '1.31.1'] },
    expect: { refused: ['1.30.4 is older than the 1.31.1 proxies pods run, and the control plane may never be older than its data plane', 'from 1.30.3 in place you can go to 1.31.x (1.31.1)'] },
  },
  { name: 'the same, allowed with allowDowngrade', request: { from: '1.30.3', to: '1.30.4', proxyVersions: ['1.31.1'], allowDowngrade: true }, expect: 'downgrade' },
  {
    name: 'proxies left behind count for the skew: 1.29 proxies cannot jump to 1.31 in place',
    request: { from: '1.30.4', to: '1.31.1', proxyVersions: ['1.29.4', '1.30.4'] },
    expect: { refused: ['pods still run 1.29.4 proxies and in place Istio moves at most one minor at a time, but 1.29 → 1.31 is 2', 'let the data plane finish restarting onto 1.30.4 first (status.dataPlane.outdatedPods) or use strategy: Canary'] },
  },
  { name: 'proxies of the same minor do not hold an upgrade back', request: { from: '1.30.4', to: '1.31.1', proxyVersions: ['1.30.2', '1.30.4', 'unknown'] }, expect: 'upgrade' },
  { name: 'proxies of an unreadable version are ignored', request: { from: '1.30.4', to: '1.31.1', proxyVersions: ['unknown', 'abc'] }, expect: 'upgrade' },
  { name: 'a running version older than the catalog, within the canary skew', request: { from: '1.28.0', to: '1.30.4', strategy: 'Canary' }, expect: 'upgrade' },
  { name: 'another major', request: { from: '2.0.0', to: '1.31.1', allowDowngrade: true }, expect: { refused: ['1.31.1 is another major version than 2.0.0'] } },
  { name: 'an unreadable running version', request: { from: 'master', to: '1.31.1' }, expect: { refused: ['the running Istio version "master" is not a 1.MINOR.PATCH version'] } },
];

for (const row of rows) {
  test(`istio upgrade path: ${row.name}`, () => {
    const request: UpgradePathRequest = { strategy: 'InPlace', allowDowngrade: false, ...row.request };
    const path = istioUpgradePath(request, ISTIO_CATALOG);
    if (row.expect === 'none') return assert.deepEqual(path, { kind: 'none' });
    if (typeof row.expect === 'string') {
      return assert.deepEqual(path, { kind: 'path', strategy: request.strategy, steps: [{ from: request.from, to: request.to, direction: row.expect }] });
    }
    assert.equal(path.kind, 'refused', JSON.stringify(path));
    if (path.kind !== 'refused') return;
    assert.equal(path.reason, 'UnsupportedUpgrade');
    for (const part of row.expect.refused) assert.ok(path.message.includes(part), `message lacks "${part}":\n${path.message}`);
  });
}

test('istio upgrade path: every version the message offers is itself allowed, and every allowed one is offered', () => {
  const request: UpgradePathRequest = { from: '1.29.3', to: '1.31.1', strategy: 'InPlace', allowDowngrade: false };
  const path = istioUpgradePath(request, ISTIO_CATALOG);
  assert.equal(path.kind, 'refused');
  const offered = ISTIO_CATALOG.filter((v) => v !== request.from && path.kind === 'refused' && new RegExp(`\\b${v.replaceAll('.', '\\.')}\\b`).test(path.message.split('; ')[1] ?? ''));
  const allowed = ISTIO_CATALOG.filter((v) => v !== request.from && istioUpgradePath({ ...request, to: v }, ISTIO_CATALOG).kind === 'path');
  assert.deepEqual(offered, allowed);
  assert.deepEqual(allowed, ['1.30.4', '1.30.3', '1.30.2', '1.29.4']);
});

test('istio upgrade notes: the changed istiod defaults of each minor crossed, in the order crossed', () => {
  assert.deepEqual(istioUpgradeNotes('1.30.4', '1.30.2'), []);
  const up = istioUpgradeNotes('1.29.4', '1.31.1');
  assert.equal(up.length, 2);
  assert.match(up[0]!, /^1\.30 changes istiod defaults; the 1\.29 behaviour is PILOT_SIDECAR_PICK_BEST_SERVICE_NAMESPACE=false$/);
  assert.match(up[1]!, /^1\.31 changes istiod defaults; the 1\.30 behaviour is PILOT_ENABLE_STRICT_GATEWAY_MERGING=false, /);
  const down = istioUpgradeNotes('1.31.1', '1.29.4');
  assert.match(down[0]!, /^leaving 1\.31 brings back the 1\.30 istiod defaults: /);
  assert.match(down[1]!, /^leaving 1\.30 brings back the 1\.29 istiod defaults: /);
});
