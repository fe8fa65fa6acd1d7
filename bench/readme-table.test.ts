/**
 * The README's performance table is derived, never typed: from a results file (a fixture, golden
 * file), from the newest full one (smoke and `--only` runs never count), and README.md holds
 * exactly what the newest results file in bench/results gives — a hand edit of the table, or a
 * results file committed without `npm run bench:table`, fails here. Also the growth verdicts of
 * the scale benchmark.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertGolden } from '../operator/distributions/golden.ts';
import { currentTable, expectedTable, newestFullResults, README, readmeTable, replaceTable, TABLE_END, TABLE_START, type ResultsDocument } from './readme-table.ts';
import { growthOf } from './scale.ts';

const fixtureFile = new URL('./support/testdata/results-full.json', import.meta.url);
const fixture = () => JSON.parse(readFileSync(fixtureFile, 'utf8')) as ResultsDocument;

test('the table is derived from a results file: every target\'s figure and verdict, the growth table, the run named', () => {
  assertGolden(new URL('./support/testdata/readme-table.golden.md', import.meta.url), `${readmeTable('2026-11-27-373e2d4.json', fixture())}\n`);
});

test('a changed figure in the results file changes the table (nothing in it is fixed text)', () => {
  const document = fixture();
  const before = readmeTable('x.json', document);
  document.results.install!.ratio = 1.1;
  document.results.install!.repetitions = 10;
  const after = readmeTable('x.json', document);
  assert.match(before, /\| install ≤ 1\.2× plain SSA \(median of ≥ 10\) \| 2\.47× \(median of 5\) \| MISS \|/);
  assert.match(after, /\| install ≤ 1\.2× plain SSA \(median of ≥ 10\) \| 1\.1× \(median of 10\) \| PASS \|/);
});

test('the newest full results file is the one with the latest start; smoke and partial runs never count', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-table-'));
  try {
    const write = (name: string, changes: Partial<ResultsDocument>) => writeFileSync(join(dir, name), JSON.stringify({ ...fixture(), ...changes }));
    write('2026-11-27-aaaaaaa.json', { startedAt: '2026-11-27T10:00:00Z' });
    // Sorted by name this one comes first; it started last.
    write('2026-11-26-bbbbbbb.json', { startedAt: '2026-11-28T10:00:00Z' });
    write('2026-11-29-ccccccc-partial.json', { startedAt: '2026-11-29T10:00:00Z', partial: true });
    write('2026-11-30-ddddddd.json', { startedAt: '2026-11-30T10:00:00Z', mode: 'smoke' });
    writeFileSync(join(dir, 'README.md'), 'not a results file');
    assert.equal(newestFullResults(dir)?.file, '2026-11-26-bbbbbbb.json');
    assert.match(expectedTable(dir), /^Newest full run: `bench\/results\/2026-11-26-bbbbbbb\.json`/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('replacing the table keeps the README around it; without markers it is an error', () => {
  const readme = `# x\n\nbefore\n${TABLE_START}\nold\n${TABLE_END}\nafter\n`;
  assert.equal(replaceTable(readme, `${TABLE_START}\nnew\n${TABLE_END}`), `# x\n\nbefore\n${TABLE_START}\nnew\n${TABLE_END}\nafter\n`);
  assert.throws(() => replaceTable('# no markers\n', 'x'), /no bench-table markers/);
});

test('README.md\'s table is what the newest full results file in bench/results gives (regenerate with npm run bench:table)', () => {
  const table = currentTable(readFileSync(README, 'utf8'));
  assert.ok(table !== undefined, 'README.md has the bench-table markers');
  assert.equal(table, expectedTable());
});

test('a copy of the newest results file with one figure changed would give a different table than README\'s', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-table-'));
  try {
    const newest = newestFullResults(join(import.meta.dirname, 'results'))!;
    copyFileSync(join(import.meta.dirname, 'results', newest.file), join(dir, newest.file));
    const document = { ...newest.document, results: { ...newest.document.results, install: { ...newest.document.results.install!, ratio: 99 } } };
    writeFileSync(join(dir, newest.file), JSON.stringify(document));
    assert.notEqual(expectedTable(dir), currentTable(readFileSync(README, 'utf8')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('growth from the first N to the last: flat, linear (at most proportional) or worse', () => {
  const rows: Array<[number, number, string, number]> = [
    // from, to (N ×5), verdict, exponent
    [100, 100, 'flat', 0],
    [100, 140, 'flat', 0.21],
    [100, 160, 'linear', 0.29],
    [100, 500, 'linear', 1],
    [100, 600, 'linear', 1.11],
    [100, 700, 'worse', 1.21],
    [100, 2500, 'worse', 2],
    [100, 50, 'flat', -0.43],
  ];
  for (const [from, to, verdict, exponent] of rows) {
    const growth = growthOf('x', from, to, 5);
    assert.equal(growth.verdict, verdict, `${from} → ${to}`);
    assert.equal(growth.exponent, exponent, `${from} → ${to}`);
  }
});
