/**
 * Table tests of Linkerd's upgrade rules (upgrade-path.ts): on the shipped catalog (2.19, 2.20 and
 * three edges of the 2.20 major), and on a made-up catalog spanning three majors (the shipped one
 * has two, so the one-major-at-a-time rule could not fail on it). The made-up releases are test
 * fixtures, not catalog entries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LINKERD_RELEASES, type LinkerdRelease } from './catalog.ts';
import { linkerdUpgradeNotes, linkerdUpgradePath } from './upgrade-path.ts';
import type { UpgradePathRequest } from '../upgrade-path.ts';

const release = (version: string, imageTag: string, major: number): LinkerdRelease => ({ version, imageTag, major, channel: version.startsWith('edge-') ? 'edge' : 'stable', notes: `notes of ${version}`, shape: { nativeSidecars: true, podMonitorHonorTimestamps: true } });

/** Three majors, newest first: 2.21 cut from edge-27.1.1, 2.20 and 2.20.1 from 26.6.3 / 26.7.2, 2.19 from 25.10.1. */
const MULTI_MAJOR: readonly LinkerdRelease[] = [
  release('edge-27.2.1', 'edge-27.2.1', 21),
  release('2.21', 'edge-27.1.1', 21),
  release('edge-26.8.3', 'edge-26.8.3', 20),
  release('2.20.1', 'edge-26.7.2', 20),
  release('2.20', 'edge-26.6.3', 20),
  release('2.19', 'edge-25.10.1', 19),
];

type Row = {
  name: string;
  request: Partial<UpgradePathRequest> & Pick<UpgradePathRequest, 'from' | 'to'>;
  releases?: readonly LinkerdRelease[];
  expect: 'none' | 'upgrade' | 'downgrade' | { refused: readonly string[] };
};

const rows: Row[] = [
  { name: 'the same version is no move', request: { from: '2.20', to: '2.20' }, expect: 'none' },
  { name: 'edge forward by one', request: { from: 'edge-26.8.2', to: 'edge-26.8.3' }, expect: 'upgrade' },
  { name: 'edge forward by two', request: { from: 'edge-26.8.1', to: 'edge-26.8.3' }, expect: 'upgrade' },
  {
    name: 'edge backward: refused, naming the later edges and allowDowngrade',
    request: { from: 'edge-26.8.2', to: 'edge-26.8.1' },
    expect: { refused: ['moving from edge-26.8.2 to edge-26.8.1 is a downgrade', 'from edge-26.8.2 you can go to edge-26.8.3', 'set spec.upgrade.allowDowngrade: true'] },
  },
  { name: 'edge backward with allowDowngrade', request: { from: 'edge-26.8.2', to: 'edge-26.8.1', allowDowngrade: true }, expect: 'downgrade' },
  { name: 'stable to an edge built after it', request: { from: '2.20', to: 'edge-26.8.1' }, expect: 'upgrade' },
  { name: 'shipped stables: 2.19 to the next major 2.20', request: { from: '2.19', to: '2.20' }, expect: 'upgrade' },
  { name: 'shipped stables: 2.19 to an edge of the next major', request: { from: '2.19', to: 'edge-26.8.3' }, expect: 'upgrade' },
  {
    name: 'shipped stables: 2.20 back to 2.19 is a downgrade',
    request: { from: '2.20', to: '2.19' },
    expect: { refused: ['moving from stable 2.20 (built from edge-26.6.3) to stable 2.19 (built from edge-25.10.7) is a downgrade', 'from 2.20 you can go to edge-26.8.3, edge-26.8.2 or edge-26.8.1'] },
  },
  { name: 'shipped stables: 2.20 back to 2.19 with allowDowngrade', request: { from: '2.20', to: '2.19', allowDowngrade: true }, expect: 'downgrade' },
  {
    name: 'shipped: an edge back to the previous major\'s stable is refused',
    request: { from: 'edge-26.8.1', to: '2.19' },
    expect: { refused: ['moving from edge-26.8.1 to stable 2.19 (built from edge-25.10.7) is a downgrade', 'from edge-26.8.1 you can go to edge-26.8.3 or edge-26.8.2'] },
  },
  {
    name: 'edge to a stable built from an older edge: a downgrade, explained by the edge it is built from',
    request: { from: 'edge-26.8.3', to: '2.20' },
    expect: { refused: ['moving from edge-26.8.3 to stable 2.20 (built from edge-26.6.3) is a downgrade (between channels, the edge a release is built from decides)', 'from edge-26.8.3 no other version of this operator\'s catalog is allowed: keep spec.version at edge-26.8.3'] },
  },
  { name: 'edge to an older stable with allowDowngrade', request: { from: 'edge-26.8.1', to: '2.20', allowDowngrade: true }, expect: 'downgrade' },
  { name: 'edge to a stable built from a later edge', releases: MULTI_MAJOR, request: { from: 'edge-26.8.3', to: '2.21' }, expect: 'upgrade' },
  { name: 'stable: a later minor within the major', releases: MULTI_MAJOR, request: { from: '2.20', to: '2.20.1' }, expect: 'upgrade' },
  { name: 'stable: an earlier minor is a downgrade', releases: MULTI_MAJOR, request: { from: '2.20.1', to: '2.20' }, expect: { refused: ['moving from stable 2.20.1 (built from edge-26.7.2) to stable 2.20 (built from edge-26.6.3) is a downgrade'] } },
  { name: 'stable: one major', releases: MULTI_MAJOR, request: { from: '2.19', to: '2.20.1' }, expect: 'upgrade' },
  {
    name: 'stable: two majors refused, naming the major to go through',
    releases: MULTI_MAJOR,
    request: { from: '2.19', to: '2.21' },
    expect: { refused: ['Linkerd moves one major version at a time, but 2.19 → 2.21 is 2', 'from 2.19 you can go to edge-26.8.3, 2.20.1 or 2.20', 'move to 2.20.1 first'] },
  },
  { name: 'edge: two majors refused too', releases: MULTI_MAJOR, request: { from: '2.19', to: 'edge-27.2.1' }, expect: { refused: ['2.19 → 2.21 is 2'] } },
  { name: 'a two-major downgrade is refused even with allowDowngrade', releases: MULTI_MAJOR, request: { from: '2.21', to: '2.19', allowDowngrade: true }, expect: { refused: ['2.21 → 2.19 is 2', 'move to 2.20.1 first'] } },
  {
    name: 'the control plane never older than the data plane',
    request: { from: 'edge-26.8.1', to: 'edge-26.8.2', proxyVersions: ['edge-26.8.1', 'edge-26.8.3'] },
    expect: { refused: ['edge-26.8.2 is older than the edge-26.8.3 proxies pods run, and the control plane may never be older than its data plane', 'from edge-26.8.1 you can go to edge-26.8.3'] },
  },
  {
    name: 'proxies left on an older major count for the major step',
    releases: MULTI_MAJOR,
    request: { from: '2.20.1', to: '2.21', proxyVersions: ['2.19', '2.20.1'] },
    expect: { refused: ['pods still run 2.19 proxies and Linkerd moves one major version at a time, but 2.19 → 2.21 is 2'] },
  },
  { name: 'proxies of versions the catalog does not know are ignored', request: { from: 'edge-26.8.1', to: 'edge-26.8.3', proxyVersions: ['unknown', 'edge-25.1.1'] }, expect: 'upgrade' },
  { name: 'a running version the catalog does not know', request: { from: '2.18', to: '2.20' }, expect: { refused: ['the running Linkerd version "2.18" is not in this operator\'s catalog'] } },
];

for (const row of rows) {
  test(`linkerd upgrade path: ${row.name}`, () => {
    const request: UpgradePathRequest = { strategy: 'InPlace', allowDowngrade: false, ...row.request };
    const path = linkerdUpgradePath(request, row.releases ?? LINKERD_RELEASES);
    if (row.expect === 'none') return assert.deepEqual(path, { kind: 'none' });
    if (typeof row.expect === 'string') {
      return assert.deepEqual(path, { kind: 'path', strategy: 'InPlace', steps: [{ from: request.from, to: request.to, direction: row.expect }] });
    }
    assert.equal(path.kind, 'refused', JSON.stringify(path));
    if (path.kind !== 'refused') return;
    assert.equal(path.reason, 'UnsupportedUpgrade');
    for (const part of row.expect.refused) assert.ok(path.message.includes(part), `message lacks "${part}":\n${path.message}`);
  });
}

test('linkerd upgrade path: the shipped catalog has edges to move between and stable releases every edge after them can be reached from', () => {
  const edges = LINKERD_RELEASES.filter((r) => r.channel === 'edge');
  const stable = LINKERD_RELEASES.filter((r) => r.channel === 'stable');
  assert.ok(edges.length >= 3, 'three edge releases');
  assert.ok(stable.length >= 2, 'two stable releases');
  assert.deepEqual(stable.map((r) => r.major), [20, 19], 'two consecutive majors, newest first');
  for (const from of stable) {
    for (const edge of edges) {
      const path = linkerdUpgradePath({ from: from.version, to: edge.version, strategy: 'InPlace', allowDowngrade: false });
      assert.equal(path.kind, 'path', `${from.version} → ${edge.version}: ${JSON.stringify(path)}`);
    }
  }
});

test('linkerd upgrade notes: the releases crossed by the edge they are built from, same notes on one line', () => {
  assert.deepEqual(linkerdUpgradeNotes('edge-26.8.1', 'edge-26.8.3'), ['edge-26.8.2, edge-26.8.3: Proxy and control-plane fixes; same install manifest as 2.20.']);
  assert.deepEqual(linkerdUpgradeNotes('edge-26.8.3', '2.20'), ['left behind by the downgrade: edge-26.8.1, edge-26.8.2, edge-26.8.3: Proxy and control-plane fixes; same install manifest as 2.20.']);
  assert.deepEqual(linkerdUpgradeNotes('2.19', '2.20', MULTI_MAJOR), ['2.20: notes of 2.20']);
  assert.deepEqual(linkerdUpgradeNotes('2.19', '2.20'), ['2.20: Linkerd 2.20: proxies run as native sidecars by default (a restarted workload gets its proxy as an init container), proxy-init runs from the proxy image (no proxy-init image any more).']);
  assert.deepEqual(linkerdUpgradeNotes('2.18', '2.20'), [], 'a version the catalog does not know has no notes');
});
