import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeApiError } from '../../runtime/kube.ts';
import { pino } from 'pino';
import { istioDistribution } from '../../distributions/istio/index.ts';
import { resolveTarget } from './resolve.ts';
import { newPassScope, type InstallationObject } from './scope.ts';
import { changedMeanwhile, computePlanned } from './sync.ts';

/** An error as KubeClient.request makes it: the request line, then the API server's own message. */
const refused = (status: number, reason: string, apiMessage: string, namespace = 'istio-system') =>
  new KubeApiError(status, reason, `PATCH /apis/apps/v1/namespaces/${namespace}/deployments/istiod: ${status} ${reason}: ${apiMessage}`, apiMessage);

test('a removal refused because the object changed since it was read is left for the next pass, whatever the namespace is called', () => {
  // What the API server answers a JSON patch whose `test` failed or whose `remove` finds nothing (seen on the e2e cluster).
  const patchRefused = 'the server rejected our request due to an error in our request';
  assert.equal(changedMeanwhile(refused(422, 'Invalid', patchRefused)), true);
  assert.equal(changedMeanwhile(refused(422, 'Invalid', patchRefused, 'test-mesh-1')), true);
  assert.equal(changedMeanwhile(refused(409, 'Conflict', 'Operation cannot be fulfilled on deployments.apps "istiod": the object has been modified')), true);
});

test('a removal refused for any other reason is a failure, even in a namespace named test-…', () => {
  assert.equal(changedMeanwhile(refused(422, 'Invalid', 'Deployment.apps "istiod" is invalid: spec.template.spec.containers: Required value', 'test-mesh-1')), false);
  assert.equal(changedMeanwhile(refused(403, 'Forbidden', 'deployments.apps "istiod" is forbidden: User cannot patch resource', 'test-mesh-1')), false);
  assert.equal(changedMeanwhile(new Error('socket hang up')), false);
});

test('the planned render is kept per installation: the same objects for a change a render does not read (an annotation), a new render for one it does (spec), frozen', () => {
  const of = (annotations: Record<string, string>, profile = 'default') => newPassScope({
    apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'render-memo', uid: 'u-1', generation: 1, resourceVersion: String(Math.random()), annotations },
    spec: { mesh: 'istio', version: '1.31.1', namespace: 'istio-system', profile },
  } as unknown as InstallationObject, pino({ level: 'silent' }), { now: () => 0 } as never);
  const first = of({ note: 'a' });
  const target = resolveTarget(first, { distributions: new Map([['istio', istioDistribution]]) } as never);
  const planned = computePlanned(first, target);
  assert.ok(planned.length > 10);
  assert.ok(planned.every((object) => Object.isFrozen(object) && Object.isFrozen(object.metadata)), 'a kept render cannot be edited in place');
  const again = computePlanned(of({ note: 'b', 'meshwright.dev/bench-touch': '1' }), target);
  assert.notEqual(again, planned, 'a new array each time');
  assert.ok(again.every((object, i) => object === planned[i]), 'the same objects: not rendered again');
  const changed = computePlanned(of({ note: 'b' }, 'minimal'), target);
  assert.ok(changed.some((object, i) => object !== planned[i]), 'a spec change renders again');
  assert.deepEqual(computePlanned(of({}, 'minimal'), target).map((o) => o.metadata.name), changed.map((o) => o.metadata.name));
});
