import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertGolden, updatingGoldens } from './golden.ts';

/** Runs `body` with a fresh directory holding `golden.yaml` (when `content` is given). */
function withGolden(content: string | undefined, body: (file: URL, path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'meshwright-golden-'));
  try {
    const path = join(dir, 'golden.yaml');
    if (content !== undefined) writeFileSync(path, content);
    body(pathToFileURL(path), path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('comparing: equal passes, a difference fails naming the first differing line, a missing file fails', () => {
  withGolden('a: 1\nb: 2\n', (file) => {
    assert.doesNotThrow(() => assertGolden(file, 'a: 1\nb: 2\n', {}));
    assert.throws(() => assertGolden(file, 'a: 1\nb: 3\n', {}), /line 2: golden "b: 2", render "b: 3".*UPDATE_GOLDEN=1/);
  });
  withGolden(undefined, (file) => assert.throws(() => assertGolden(file, 'a: 1\n', {}), /is missing; create it with UPDATE_GOLDEN=1/));
});

test('UPDATE_GOLDEN=1 rewrites a stale or missing file and fails once; an unchanged file passes untouched', () => {
  const update = { UPDATE_GOLDEN: '1' };
  withGolden('old\n', (file, path) => {
    assert.throws(() => assertGolden(file, 'new\n', update), /rewrote golden file .*golden\.yaml/);
    assert.equal(readFileSync(path, 'utf8'), 'new\n');
    assert.doesNotThrow(() => assertGolden(file, 'new\n', update), 'the second run finds nothing to rewrite');
    assert.doesNotThrow(() => assertGolden(file, 'new\n', {}));
  });
  withGolden(undefined, (file, path) => {
    assert.throws(() => assertGolden(file, 'created\n', update), /rewrote golden file/);
    assert.equal(readFileSync(path, 'utf8'), 'created\n');
  });
});

test('with CI set, UPDATE_GOLDEN=1 is refused and nothing is written', () => {
  for (const ci of ['true', '1', 'github-actions']) {
    assert.throws(() => updatingGoldens({ UPDATE_GOLDEN: '1', CI: ci }), /UPDATE_GOLDEN=1 is refused when CI is set/);
    withGolden('old\n', (file, path) => {
      assert.throws(() => assertGolden(file, 'new\n', { UPDATE_GOLDEN: '1', CI: ci }), /refused when CI is set/);
      assert.equal(readFileSync(path, 'utf8'), 'old\n');
    });
  }
  assert.equal(updatingGoldens({ CI: 'true' }), false, 'CI alone just compares');
  assert.equal(updatingGoldens({ UPDATE_GOLDEN: '0' }), false);
});
