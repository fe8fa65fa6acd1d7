/**
 * Golden files for the renderers' tests (test support, not a test file itself).
 *
 * A golden test compares a render with a committed file. `UPDATE_GOLDEN=1` rewrites the file
 * instead; a rewrite then fails the test once, saying which file changed, because a test that
 * writes its own expectation and then passes against it proves nothing: the reviewer must look
 * at the diff and run the tests again without the flag. With `CI` set, rewriting is refused
 * outright: CI must compare against what was committed.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Whether this run asked to rewrite golden files, refused when `env.CI` is set. */
export function updatingGoldens(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.UPDATE_GOLDEN !== '1') return false;
  // Any non-empty CI value counts: CI systems set it to "true", "1" or their own name.
  if (env.CI) throw new Error('UPDATE_GOLDEN=1 is refused when CI is set: CI compares renders with the committed golden files and never rewrites them; run UPDATE_GOLDEN=1 locally and commit the result');
  return true;
}

/**
 * Asserts that `actual` equals the golden file `file`. With `UPDATE_GOLDEN=1` (and no `CI`) a
 * missing or different file is rewritten and the assertion fails, naming the file; an equal one
 * is left alone and passes.
 */
export function assertGolden(file: URL, actual: string, env: NodeJS.ProcessEnv = process.env): void {
  const path = fileURLToPath(file);
  const committed = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  if (updatingGoldens(env)) {
    if (committed === actual) return;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    assert.fail(`rewrote golden file ${path} (UPDATE_GOLDEN=1): review the diff, then run the tests again without UPDATE_GOLDEN`);
  }
  assert.ok(committed !== undefined, `golden file ${path} is missing; create it with UPDATE_GOLDEN=1`);
  // Line by line first, so a failure names the first differing line instead of printing two files.
  const committedLines = committed.split('\n');
  const actualLines = actual.split('\n');
  const first = actualLines.findIndex((line, index) => committedLines[index] !== line);
  const where = first < 0 ? 'the end of the file' : `line ${first + 1}: golden ${JSON.stringify(committedLines[first])}, render ${JSON.stringify(actualLines[first])}`;
  assert.ok(actual === committed, `render differs from ${path} at ${where}; if the change is intended, rerun with UPDATE_GOLDEN=1 and review the diff`);
}
