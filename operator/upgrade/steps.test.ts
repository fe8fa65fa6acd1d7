/**
 * status.upgrade.stepName uses the words `meshwright plan` prints: each step title of steps.ts is
 * the start of the plan's line with the same number, for an InPlace and a Canary plan.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { builtInDistributions } from '../distributions/built-in.ts';
import { planCommand } from '../cli/plan.ts';
import { canaryStepTitles, IN_PLACE_STEPS, inPlaceStepNumber } from './steps.ts';

const TESTDATA = new URL('../cli/testdata/plan/', import.meta.url).pathname;
const readFile = (path: string) => readFileSync(`${TESTDATA}${path}`, 'utf8');

/** The numbered step lines of a plan: `N. text`. */
async function stepLines(args: string[]): Promise<string[]> {
  const { stdout } = await planCommand(args, { distributions: builtInDistributions, readFile });
  return stdout.split('\n').filter((line) => /^ {2}\d+\. /.test(line)).map((line) => line.trim());
}

test('InPlace: the titles and numbers are the plan\'s', async () => {
  const lines = await stepLines(['-f', 'istio-inplace.yaml', '--from', '1.30.4']);
  assert.equal(lines.length, IN_PLACE_STEPS.length);
  IN_PLACE_STEPS.forEach((title) => assert.ok(lines[inPlaceStepNumber(title) - 1]!.startsWith(`${inPlaceStepNumber(title)}. ${title}`), `${title}: ${lines.join('\n')}`));
});

test('Canary: the titles and numbers are the plan\'s', async () => {
  const lines = await stepLines(['-f', 'istio-canary.yaml', '--from', '1.29.4']);
  const titles = canaryStepTitles(2, { old: '1-29-4', new: '1-31-1' });
  assert.equal(lines.length, titles.length);
  titles.forEach((title, i) => assert.ok(lines[i]!.startsWith(`${i + 1}. ${title}`), `${title}: ${lines[i]}`));
});
