/**
 * isGatewayObject (executor.ts): which rendered objects and components belong to spec.gateways —
 * the Gateways stage of an InPlace upgrade holds and gates exactly those.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isGatewayObject } from './executor.ts';

const spec = { namespace: 'istio-system', gateways: [{ name: 'istio-ingressgateway', kind: 'Ingress' as const }, { name: 'egress', kind: 'Egress' as const, namespace: 'istio-egress' }] };

test('a gateway\'s objects: in its namespace (spec.namespace unless it names one), named after it or `<name>-…`', () => {
  for (const [object, expected] of [
    [{ kind: 'Deployment', namespace: 'istio-system', name: 'istio-ingressgateway' }, true],
    [{ kind: 'ServiceAccount', namespace: 'istio-system', name: 'istio-ingressgateway-service-account' }, true],
    [{ kind: 'Deployment', namespace: 'istio-system', name: 'istio-ingressgateway-1-31-1' }, true],
    [{ kind: 'Deployment', namespace: 'istio-egress', name: 'egress' }, true],
    [{ kind: 'Deployment', namespace: 'istio-system', name: 'egress' }, false], // not in the gateway's namespace
    [{ kind: 'Deployment', namespace: 'istio-system', name: 'istiod' }, false],
    [{ kind: 'Namespace', name: 'istio-egress' }, false],
    [{ kind: 'CustomResourceDefinition', name: 'istio-ingressgateway-things' }, false],
    [{ kind: 'Deployment', namespace: 'istio-system', name: 'istio-ingressgatewayx' }, false],
  ] as const) assert.equal(isGatewayObject(spec, object), expected, JSON.stringify(object));
  assert.equal(isGatewayObject({ namespace: 'istio-system' }, { kind: 'Deployment', namespace: 'istio-system', name: 'istio-ingressgateway' }), false, 'no gateways');
});
