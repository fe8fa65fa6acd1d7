import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LastComputed } from './last-computed.ts';

test('the last value per name is given back only for the key it was computed from; the name used longest ago goes first past the limit', () => {
  const last = new LastComputed<number>(2);
  last.set('a', 'k1', 1);
  assert.equal(last.get('a', 'k1'), 1);
  assert.equal(last.get('a', 'k2'), undefined, 'computed from something else');
  last.set('a', 'k2', 2);
  assert.equal(last.get('a', 'k1'), undefined, 'one value per name');
  last.set('b', 'k', 3);
  last.set('a', 'k3', 4); // a used last
  last.set('c', 'k', 5);
  assert.equal(last.get('b', 'k'), undefined, 'b went first');
  assert.equal(last.get('a', 'k3'), 4);
  last.delete('a');
  assert.equal(last.get('a', 'k3'), undefined);
});
