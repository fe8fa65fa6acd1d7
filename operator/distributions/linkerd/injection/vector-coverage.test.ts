/**
 * Every file of Linkerd's injection vector folders (../shared/reference/linkerd/{inject-cli,
 * proxy-injector}) is accounted for by a row of the vector table: read by a compared vector or named
 * by an out-of-scope one, so no upstream vector is silently left out. The CLI's text reports are the
 * one kind of file no row reads, for the reason given below.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { injectVectors } from '../testdata/inject-vectors.ts';

/**
 * `*.report`, `*.stderr` (and their `.verbose` twins): the text `linkerd inject` prints about what it
 * did, not an injection result; `meshwright inject` prints its own.
 */
const CLI_TEXT_REPORT = /\.(report|stderr)(\.verbose)?$/;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

test('every file of the Linkerd injection vector folders is read or named by a row of the vector table', () => {
  const base = injectVectors.baseDir;
  const files = ['inject-cli', 'proxy-injector'].flatMap((folder) => filesUnder(join(base, folder))).map((f) => relative(base, f));
  assert.ok(files.length > 100, `the reference folders are there (${files.length} files under ${base})`);
  const accounted = new Set(injectVectors.vectors.flatMap((v) => [v.input, v.expected, v.expectedPatch, v.namespace?.file, ...(v.covers ?? [])]).filter((f): f is string => !!f));
  const unaccounted = files.filter((f) => !CLI_TEXT_REPORT.test(f) && !accounted.has(f)).sort();
  assert.deepEqual(unaccounted, []);
  // And every file a row names exists (a typo would otherwise account for nothing).
  assert.deepEqual([...accounted].filter((f) => !files.includes(f)).sort(), []);
});
