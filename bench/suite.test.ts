/**
 * `--only`: the selection of benchmarks (suite order, unknown names refused) and how a partial
 * run's results file is told from a full run's (its name and its `partial` mark).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCHMARKS, completeResults, FULL, selectBenchmarks, withScaleSteps } from './suite.ts';
import { writeResults, type Machine, type SuiteResults } from './support/report.ts';

test('--only selects the named benchmarks in suite order, whatever the order of the list', () => {
  assert.deepEqual([...selectBenchmarks('drift,install')], ['install', 'drift']);
  assert.deepEqual([...selectBenchmarks(' memory , idle ')], ['idle', 'memory']);
  assert.deepEqual([...selectBenchmarks(undefined)], [...BENCHMARKS]);
});

test('--only refuses an unknown or empty list instead of running nothing', () => {
  assert.throws(() => selectBenchmarks('install,drfit'), /unknown benchmark drfit/);
  assert.throws(() => selectBenchmarks(''), /none named/);
});

test('--scale-steps replaces the scale benchmark\'s steps (a new settings object, so the run is partial); a list that does not rise is refused', () => {
  assert.equal(withScaleSteps(FULL, undefined), FULL);
  const stepped = withScaleSteps(FULL, '500, 2000');
  assert.deepEqual(stepped.scaleSteps, [500, 2000]);
  assert.notEqual(stepped, FULL);
  assert.deepEqual(FULL.scaleSteps, [1000, 5000], 'the issue\'s steps are left as they were');
  for (const bad of ['', '1000,500', '10,10', 'ten', '0', '1.5']) assert.throws(() => withScaleSteps(FULL, bad), /--scale-steps: .* is not a rising list/, bad);
});

test('a partial run is never taken for a full one', () => {
  assert.throws(() => completeResults({ install: {} as SuiteResults['install'] }), /missing from the results: rollout, idle/);
});

test('a partial run\'s results file is named and marked partial; a full run\'s is not', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-results-'));
  try {
    const machine: Machine = { cpus: 2, cpuModel: 'test', memoryGb: 8, node: 'v20', kernel: 'k', kubernetes: 'v1', commit: 'abc1234', dirty: true, loadAverage: [1, 2, 3] };
    const at = new Date('2026-11-28T01:00:00Z');
    const partial = writeResults('full', machine, {}, at, { partial: true, dir });
    const again = writeResults('full', machine, {}, at, { partial: true, dir });
    const full = writeResults('full', machine, {}, at, { partial: false, dir });
    assert.deepEqual([partial, again, full].map((f) => f.slice(dir.length + 1)), ['2026-11-28-abc1234-partial.json', '2026-11-28-abc1234-partial-2.json', '2026-11-28-abc1234.json']);
    assert.equal(readdirSync(dir).length, 3);
    const document = JSON.parse(readFileSync(partial, 'utf8')) as { partial: boolean; machine: Machine };
    assert.equal(document.partial, true);
    assert.equal(document.machine.dirty, true, 'the results record a dirty tree');
    assert.equal((JSON.parse(readFileSync(full, 'utf8')) as { partial: boolean }).partial, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
