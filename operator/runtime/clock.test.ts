/**
 * The system clock's timers for delays beyond what setTimeout honours: a renewal months away must
 * wait months, not fire at once (Node clamps such a delay to 1 ms, and a timer re-armed from its
 * callback then spins the process).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TIMEOUT_MS, setLongTimeout, systemClock } from './clock.ts';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a delay longer than one step is waited out in steps, then fires once', async () => {
  const started = Date.now();
  let firedAt = 0;
  let fired = 0;
  setLongTimeout(120, () => { fired++; firedAt = Date.now(); }, 25);
  await pause(60);
  assert.equal(fired, 0, 'not before its time');
  await pause(150);
  assert.equal(fired, 1);
  assert.ok(firedAt - started >= 115, `fired after ${firedAt - started} ms`);
});

test('cancel stops a timer between its steps', async () => {
  let fired = 0;
  const timer = setLongTimeout(80, () => fired++, 20);
  await pause(45);
  timer.cancel();
  await pause(100);
  assert.equal(fired, 0);
});

test('the system clock does not fire a timer due in a year (setTimeout alone would in 1 ms)', async () => {
  let fired = 0;
  const timer = systemClock.setTimer(365 * 24 * 3600_000, () => fired++);
  await pause(50);
  timer.cancel();
  assert.equal(fired, 0);
  assert.ok(365 * 24 * 3600_000 > MAX_TIMEOUT_MS, 'the delay is beyond what setTimeout honours');
});
