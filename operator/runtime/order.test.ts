import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byCodePoint } from './order.ts';

test('for Kubernetes names, code-point order is the order localeCompare gives', () => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-.';
  // A fixed pseudo-random sequence: the same names every run.
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const names = Array.from({ length: 2000 }, () => Array.from({ length: 1 + Math.floor(next() * 12) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(''));
  names.push('ns-1', 'ns-10', 'ns-2', 'ns1', 'ns.a', 'ns-a', 'nsa', 'a', 'a-', 'a0');
  const sign = (n: number) => Math.sign(n);
  for (let i = 1; i < names.length; i++) {
    const [a, b] = [names[i - 1]!, names[i]!];
    assert.equal(sign(byCodePoint(a, b)), sign(a.localeCompare(b)), `${a} vs ${b}`);
  }
  assert.deepEqual([...names].sort(byCodePoint), [...names].sort((a, b) => a.localeCompare(b)));
});
