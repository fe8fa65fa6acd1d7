import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeApiError } from '../../runtime/kube.ts';
import { changedMeanwhile } from './sync.ts';

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
