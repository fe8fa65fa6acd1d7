import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CertificateAuthorityError } from './authority.ts';
import { acceptsReplacing, ACCEPT_NEW_ROOT_ANNOTATION, planContinuity, type ContinuityFacts } from './continuity.ts';

const ROOT = 'ab:cd:ef:01';
const OTHER = '12:34:56:78';
const base: ContinuityFacts = { installation: 'mesh', type: 'SelfSigned', stateWhere: 'istio-system/meshwright-ca', published: [] };
const cacerts = { where: 'Secret istio-system/cacerts', fingerprints: [ROOT] };

function refusal(facts: ContinuityFacts): CertificateAuthorityError {
  try {
    planContinuity(facts);
  } catch (error) {
    assert.ok(error instanceof CertificateAuthorityError);
    return error;
  }
  return assert.fail('expected a refusal');
}

test('a first install (no state, nothing published) makes a new root; a state with its root key is used as it is', () => {
  assert.deepEqual(planContinuity(base), { use: 'newRoot', replaces: [] });
  assert.deepEqual(planContinuity({ ...base, published: [{ where: 'ConfigMap istio-system/istio-ca-root-cert', fingerprints: [] }] }), { use: 'newRoot', replaces: [] }, 'a place without a certificate publishes no root');
  assert.deepEqual(planContinuity({ ...base, state: { hasRootKey: true, rootFingerprints: [ROOT] }, published: [cacerts] }), { use: 'state' });
});

test('state lost while the cluster still trusts its root: stalled, saying what was lost, where the root is still published, and both ways on', () => {
  const error = refusal({ ...base, published: [cacerts, { where: 'ConfigMap istio-system/istio-ca-root-cert', fingerprints: [ROOT] }] });
  assert.equal(error.reason, 'CertificateAuthorityStateLost');
  assert.equal(error.stalls, true);
  assert.equal(error.terminal, false, 'retried: restoring the Secret is no spec change');
  assert.match(error.message, /the CA state Secret istio-system\/meshwright-ca, which holds the root key, is gone/);
  assert.match(error.message, /published in Secret istio-system\/cacerts, ConfigMap istio-system\/istio-ca-root-cert/);
  assert.match(error.message, /restore Secret istio-system\/meshwright-ca from a backup/);
  assert.ok(error.message.endsWith(`kubectl annotate meshinstallation mesh ${ACCEPT_NEW_ROOT_ANNOTATION}=${ROOT}`), error.message);
});

test('the opt-in must name every root it gives up (colons and case aside); a stale one accepts nothing', () => {
  const published = [cacerts, { where: 'ConfigMap istio-system/istio-ca-root-cert', fingerprints: [OTHER] }];
  assert.equal(refusal({ ...base, published, accepted: ROOT }).reason, 'CertificateAuthorityStateLost', 'one of two roots named');
  assert.deepEqual(planContinuity({ ...base, published, accepted: `${ROOT.toUpperCase()}, ${OTHER.replaceAll(':', '')}` }), { use: 'newRoot', replaces: [ROOT, OTHER] });
  assert.equal(acceptsReplacing('true', [ROOT]), false, 'a bare "true" names no root');
  assert.equal(acceptsReplacing(ROOT, []), false, 'nothing to give up, nothing accepted');
});

test('External asked while the mesh runs on the operator\'s self-signed root: stalled unless the user gives that root up', () => {
  const facts: ContinuityFacts = { ...base, type: 'External', state: { hasRootKey: true, rootFingerprints: [ROOT] }, externalWhere: 'cert-manager/corp-ca' };
  const error = refusal(facts);
  assert.equal(error.reason, 'CertificateAuthorityTypeChanged');
  assert.match(error.message, /type is External, but the mesh runs on the operator's self-signed root ab:cd:ef:01: taking the CA from Secret cert-manager\/corp-ca now would cut every workload's trust at once/);
  assert.match(error.message, /Set type back to SelfSigned/);
  assert.deepEqual(planContinuity({ ...facts, accepted: ROOT }), { use: 'external', replaces: [ROOT] });
  assert.deepEqual(planContinuity({ ...facts, state: { hasRootKey: false, rootFingerprints: [OTHER] } }), { use: 'external', replaces: [] }, 'External over an External state');
  assert.deepEqual(planContinuity({ ...facts, state: undefined }), { use: 'external', replaces: [] }, 'no state: the user\'s Secret is the truth');
});

test('SelfSigned asked while the mesh runs on an External CA: stalled (no root key to continue with), never a permanent dead end', () => {
  const facts: ContinuityFacts = { ...base, state: { hasRootKey: false, rootFingerprints: [OTHER] } };
  const error = refusal(facts);
  assert.equal(error.reason, 'CertificateAuthorityTypeChanged');
  assert.match(error.message, /type is SelfSigned, but the mesh runs on an External CA \(root 12:34:56:78\) whose root key the operator never held/);
  assert.match(error.message, /Set type back to External; or, to start a new self-signed CA .*: kubectl annotate meshinstallation mesh meshwright.dev\/accept-new-root=12:34:56:78$/);
  assert.deepEqual(planContinuity({ ...facts, accepted: OTHER }), { use: 'newRoot', replaces: [OTHER] });
});
