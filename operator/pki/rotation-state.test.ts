import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSelfSignedAuthority, decodeAuthorityState, encodeAuthorityState, type AuthoritySettings } from './authority.ts';
import { planRootRotation, type RotationRecord } from './rotation.ts';
import {
  externalRotationFacts, issuingRootFingerprint, promoteExternal, promoteNewRoot, publishExternalOverlap, publishOverlap, renewIssuerFromItsRoot, rotationFacts,
  stageExternal, stageNewRoot, switchIssuerToNewRoot, switchToExternalIssuer, type RotatingAuthorityState,
} from './rotation-state.ts';
import { findIssuer, splitCertificates } from './x509.ts';
import { trustBundleSha256 } from '../distributions/injection.ts';
import { containsKeyMaterial } from '../runtime/redact.ts';

const HOUR = 3_600_000;
const NOW = Date.parse('2026-11-27T12:00:00Z');

const settings: AuthoritySettings = {
  profile: { root: { commonName: 'root' }, issuer: { commonName: 'issuer' }, defaultKeyAlgorithm: 'ECDSAP256', keyAlgorithms: ['ECDSAP256'], published: { trustAnchors: [], keyHolders: [] } },
  keyAlgorithm: 'ECDSAP256', rootTtlMs: 1000 * HOUR, issuerTtlMs: 100 * HOUR, renewBeforeMs: HOUR,
};

/** The issuer chains to one of the published anchors (what a proxy checks). */
function issuerTrusted(state: RotatingAuthorityState): boolean {
  const issuer = splitCertificates(state.issuer.chainPem)[0]!;
  return findIssuer(issuer, splitCertificates(state.trustAnchorsPem)) !== undefined;
}

test('rotation state: a real CA walked through every action as the planner orders them, each idempotent, the issuer always trusted', async () => {
  let state: RotatingAuthorityState = await createSelfSignedAuthority(settings, NOW);
  const oldRoot = state.root!.certificatePem;
  let recorded: RotationRecord = { phase: 'Idle', lastTrigger: '1' };
  const actions: string[] = [];
  for (let i = 0; i < 12 && !(recorded.phase === 'Idle' && actions.includes('complete')); i++) {
    const ca = await rotationFacts(state);
    // Every pod already holds the current bundle: the data plane gate passes at once.
    const plan = planRootRotation({
      caType: 'SelfSigned', settings: { automatic: false, renewBeforeMs: HOUR, trigger: '2' }, recorded, ca,
      rollout: { state: 'complete', outdatedWorkloads: 0, skipped: [], barePods: [] }, podBundles: { [ca.trustBundleHash]: 2 },
    }, NOW + i * HOUR);
    assert.equal(containsKeyMaterial(JSON.stringify({ ca, plan })), false, 'facts and plan hold no key');
    recorded = plan.record;
    actions.push(plan.action);
    const now = NOW + i * HOUR;
    const run = async (s: RotatingAuthorityState): Promise<RotatingAuthorityState> => {
      switch (plan.action) {
        case 'generateNewRoot': return stageNewRoot(s, settings, now);
        case 'publishOverlapBundle': return publishOverlap(s);
        case 'switchIssuer': return switchIssuerToNewRoot(s, settings, now);
        case 'publishNewRootOnly': return promoteNewRoot(s);
        default: return s;
      }
    };
    const once = await run(state);
    // Run again, as after a kill between the action and the next pass: the same state (no second root, no second issuer).
    if (plan.action !== 'publishNewRootOnly') assert.deepEqual(await run(once), once, `${plan.action} is idempotent`);
    state = once;
    assert.ok(issuerTrusted(state), `after ${plan.action} the issuer chains to a published root`);
  }
  assert.deepEqual(actions, ['generateNewRoot', 'publishOverlapBundle', 'switchIssuer', 'publishNewRootOnly', 'complete']);
  assert.notEqual(state.root!.certificatePem, oldRoot);
  assert.equal(state.trustAnchorsPem, state.root!.certificatePem, 'the new root alone is published');
  assert.equal(state.nextRoot, undefined);
});

test('rotation state: the switch repeats the new root in the overlap bundle, so its hash (and the rollout target) changes, and each bundle holds the one before it byte for byte or the reverse (as istiod requires)', async () => {
  const staged = publishOverlap(await stageNewRoot(await createSelfSignedAuthority(settings, NOW), settings, NOW));
  const before = await rotationFacts(staged);
  const after = await rotationFacts(await switchIssuerToNewRoot(staged, settings, NOW));
  assert.deepEqual([...new Set(after.trustAnchors)].sort(), [...before.trustAnchors].sort(), 'the same two roots');
  const switched = await switchIssuerToNewRoot(staged, settings, NOW);
  assert.ok(staged.trustAnchorsPem.startsWith(staged.root!.certificatePem), 'overlap contains the old bundle');
  assert.ok(switched.trustAnchorsPem.includes(staged.trustAnchorsPem), 'switched contains the overlap');
  assert.ok(switched.trustAnchorsPem.includes(promoteNewRoot(switched).trustAnchorsPem), 'switched contains the new root alone');
  assert.notEqual(after.trustBundleHash, before.trustBundleHash);
  // The planner matches this against each pod's meshwright.dev/trust-bundle-sha256: the injector's form.
  assert.equal(before.trustBundleHash, trustBundleSha256(staged.trustAnchorsPem));
  assert.equal((await rotationFacts(staged, 'abc123')).trustBundleHash, 'abc123', 'the hash of the anchors as published, when the caller has it');
  assert.equal(before.issuerRoot, before.root.fingerprint);
  assert.equal(after.issuerRoot, after.next?.fingerprint);
});

test('rotation state: actions out of order are refused, never guessed', async () => {
  const state = await createSelfSignedAuthority(settings, NOW);
  assert.throws(() => publishOverlap(state), /no new root/);
  assert.throws(() => promoteNewRoot(state), /no new root/);
  await assert.rejects(switchIssuerToNewRoot(state, settings, NOW), /no new root/);
});

test('rotation state: the new root survives the state Secret\'s encoding, and an issuer renewed after the switch is signed by the new root', async () => {
  const staged = publishOverlap(await stageNewRoot(await createSelfSignedAuthority(settings, NOW), settings, NOW));
  // A process killed after committing the staged root reads it back: the same new root, not a second one.
  const decoded = decodeAuthorityState(encodeAuthorityState(staged), 'test/meshwright-ca');
  assert.deepEqual(decoded.nextRoot, staged.nextRoot);
  assert.deepEqual(await stageNewRoot(decoded, settings, NOW + HOUR), decoded, 'a decoded staged root is kept');
  assert.equal(decodeAuthorityState(encodeAuthorityState(promoteNewRoot(await switchIssuerToNewRoot(staged, settings, NOW))), 'x').nextRoot, undefined);

  const before = await renewIssuerFromItsRoot(staged, settings, NOW + HOUR);
  assert.ok(findIssuer(splitCertificates(before.issuer.chainPem)[0]!, [staged.root!.certificatePem]), 'before the switch: renewed from the old root');
  const switched = await switchIssuerToNewRoot(staged, settings, NOW);
  const renewed = await renewIssuerFromItsRoot(switched, settings, NOW + HOUR);
  assert.notEqual(renewed.issuer.chainPem, switched.issuer.chainPem, 'a new issuer');
  assert.ok(findIssuer(splitCertificates(renewed.issuer.chainPem)[0]!, [staged.nextRoot!.certificatePem]), 'after the switch: renewed from the new root');
  assert.equal(renewed.root, switched.root, 'the old root stays the root until the promotion');
  assert.equal(renewed.nextRoot, switched.nextRoot);
});

test('rotation state, External: the user\'s new root walked through the planner\'s actions — staged, overlapped, issuer switched, promoted — the issuer always trusted, ending on the user\'s material', async () => {
  const old = await createSelfSignedAuthority(settings, NOW);
  const users = await createSelfSignedAuthority(settings, NOW + HOUR);
  const material = { trustAnchorsPem: users.trustAnchorsPem, issuerChainPem: users.issuer.chainPem, issuerKeyPem: users.issuer.privateKeyPem };
  let state: RotatingAuthorityState = { trustAnchorsPem: old.trustAnchorsPem, issuer: old.issuer, serving: {} };
  const userRoot = await issuingRootFingerprint(material.issuerChainPem, material.trustAnchorsPem);
  let recorded: RotationRecord = { phase: 'Idle' };
  const actions: string[] = [];
  const bundles: string[] = [state.trustAnchorsPem];
  for (let i = 0; i < 12 && !(recorded.phase === 'Idle' && actions.includes('complete')); i++) {
    const ca = await externalRotationFacts(state, trustBundleSha256(state.trustAnchorsPem));
    const plan = planRootRotation({
      caType: 'External', settings: { automatic: false, renewBeforeMs: HOUR }, recorded, ca, externalRoot: userRoot,
      rollout: { state: 'complete', outdatedWorkloads: 0, skipped: [], barePods: [] }, podBundles: { [ca.trustBundleHash]: 2 },
    }, NOW + i * HOUR);
    recorded = plan.record;
    actions.push(plan.action);
    const run = (s: RotatingAuthorityState): RotatingAuthorityState => {
      switch (plan.action) {
        case 'stageExternalRoot': return stageExternal(s, material);
        case 'publishOverlapBundle': return publishExternalOverlap(s);
        case 'switchIssuer': return switchToExternalIssuer(s);
        case 'publishNewRootOnly': return promoteExternal(s);
        default: return s;
      }
    };
    const once = run(state);
    if (plan.action !== 'publishNewRootOnly') assert.deepEqual(run(once), once, `${plan.action} is idempotent`);
    state = once;
    if (bundles.at(-1) !== state.trustAnchorsPem) bundles.push(state.trustAnchorsPem);
    assert.ok(issuerTrusted(state), `after ${plan.action} the issuer chains to a published root`);
  }
  assert.deepEqual(actions, ['stageExternalRoot', 'publishOverlapBundle', 'switchIssuer', 'publishNewRootOnly', 'complete']);
  assert.equal(state.trustAnchorsPem, material.trustAnchorsPem, 'the user\'s anchors alone');
  assert.equal(state.issuer.chainPem, material.issuerChainPem, 'the user\'s issuer');
  assert.equal(state.nextExternal, undefined);
  for (let i = 1; i < bundles.length; i++) assert.ok(bundles[i]!.includes(bundles[i - 1]!) || bundles[i - 1]!.includes(bundles[i]!), `bundle ${i} holds the one before or the reverse (istiod's rule)`);
  const decoded = decodeAuthorityState(encodeAuthorityState(stageExternal({ trustAnchorsPem: old.trustAnchorsPem, issuer: old.issuer, serving: {} }, material)), 'x');
  assert.deepEqual(decoded.nextExternal, { trustAnchorsPem: material.trustAnchorsPem, issuer: { chainPem: material.issuerChainPem, privateKeyPem: material.issuerKeyPem } }, 'the staged material survives the state Secret');
});
