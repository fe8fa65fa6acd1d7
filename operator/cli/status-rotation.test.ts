/**
 * The root rotation in `meshwright status` (status-rotation.ts): whole reports over hand-written
 * installations compared with a golden file (testdata/status-rotation/rotating.yaml → .txt;
 * `UPDATE_GOLDEN=1` rewrites it), and the lines' colors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { assertGolden } from '../distributions/golden.ts';
import { renderStatusReport, type StatusInstallation } from './status.ts';
import { rotationLines } from './status-rotation.ts';

const TESTDATA = join(import.meta.dirname, 'testdata', 'status-rotation');
const NOW = new Date('2026-11-27T19:00:00Z');
const installations = (parse(readFileSync(join(TESTDATA, 'rotating.yaml'), 'utf8')) as { installations: StatusInstallation[] }).installations;

test('golden: rotations under way, paused, switching and finished, as the report shows them', () => {
  assertGolden(pathToFileURL(join(TESTDATA, 'rotating.txt')), renderStatusReport(installations, { now: NOW, color: false, width: 80 }));
});

test('a rotation under way is yellow, a paused one red; the pods bar only while a step waits on restarts; none without a record', () => {
  const [restarting, paused, switching, done] = installations.map((mi) => rotationLines(mi.status!, NOW));
  assert.equal(restarting![0]!.tone, 'yellow');
  assert.match(restarting![0]!.text, /^root rotation: RestartingForTrustBundle, started 10m ago$/);
  assert.ok(restarting!.some((l) => l.text.endsWith('6/10 pods hold the current trust bundle')));
  assert.ok(restarting!.some((l) => l.text.startsWith('trigger 7 queued')));
  assert.equal(paused![0]!.tone, 'red');
  assert.match(paused![0]!.text, /\(paused\)/);
  assert.ok(!switching!.some((l) => l.text.includes('pods hold')), 'switching the issuer waits on no pod');
  assert.deepEqual(done, [{ text: 'last root rotation completed 30m ago' }]);
  assert.deepEqual(rotationLines({}, NOW), []);
  assert.deepEqual(rotationLines({ certificateAuthority: { rotation: { phase: 'Idle' } } } as never, NOW), []);
});
