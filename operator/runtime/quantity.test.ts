import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isQuantityField, parseQuantity, sameQuantity } from './quantity.ts';

test('quantities parse in every Kubernetes form', () => {
  const cases: Record<string, number> = { '500m': 0.5, '2Gi': 2 ** 31, '2048Mi': 2 ** 31, '1e3': 1000, '1.5': 1.5, '.5': 0.5, '10k': 10_000, '128974848': 128_974_848, '129M': 129e6 };
  for (const [text, value] of Object.entries(cases)) assert.equal(parseQuantity(text), value, text);
  for (const text of ['', 'abc', '1.31.1', '2 Gi', 'Gi', '1x']) assert.equal(parseQuantity(text), undefined, text);
  assert.ok(sameQuantity('1000m', '1'));
  assert.ok(!sameQuantity('1Gi', '1G'));
});

test('quantity fields are recognised by path', () => {
  for (const path of ['spec/template/spec/containers/resources/limits/cpu', 'spec/resources/requests/storage', 'spec/overhead/memory', 'overhead/podFixed/cpu',
    'spec/volumes/emptyDir/sizeLimit', 'spec/hard/requests.memory', 'spec/limits/defaultRequest/cpu', 'spec/metrics/resource/target/averageValue', 'spec/capacity/storage']) {
    assert.ok(isQuantityField(path.split('/')), path);
  }
  for (const path of ['spec/template/spec/containers/env/value', 'data/memory', 'spec/resources', 'spec/template/hard/cpu', 'spec/limits/cpu', 'metadata/labels/cpu', 'spec/template/spec/containers/resources/claims/name']) {
    assert.ok(!isQuantityField(path.split('/')), path);
  }
});
