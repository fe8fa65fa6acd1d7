import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRootRotation, podsMaybeOnOldIssuer, RotationReason, type IdentityObservation, type RotationAction, type RotationObservation, type RotationPhase, type RotationPlan, type RotationRecord } from './rotation.ts';
import { createSelfSignedAuthority, type AuthoritySettings } from './authority.ts';
import { describeCertificate } from './x509.ts';
import { containsKeyMaterial } from '../runtime/redact.ts';
import type { RolloutVerdict } from '../rollout/index.ts';

const HOUR = 3_600_000;
const NOW = Date.parse('2026-11-27T12:00:00Z');
const STARTED = '2026-11-27T11:00:00Z';
const R = 'aa:aa';
const N = 'bb:bb';
const ROOT_NOT_AFTER = NOW + 10_000 * HOUR;

/** The model's bundle hash: the roots in order (what matters is that order changes it). */
const hashOf = (anchors: readonly string[]) => `sha256:${anchors.join('+')}`;

type Stage = 'single' | 'staged' | 'overlap' | 'switched' | 'dropped';

/** The CA state at each stage of a rotation from R to N. */
function caAt(stage: Stage): RotationObservation['ca'] {
  const root = { fingerprint: R, notAfter: ROOT_NOT_AFTER };
  const next = { fingerprint: N, notAfter: ROOT_NOT_AFTER + 80_000 * HOUR };
  const with_ = (anchors: string[], issuerRoot: string, extra: Partial<RotationObservation['ca']> = {}) => ({ root, trustAnchors: anchors, issuerRoot, trustBundleHash: hashOf(anchors), ...extra });
  switch (stage) {
    case 'single': return with_([R], R);
    case 'staged': return with_([R], R, { next });
    case 'overlap': return with_([R, N], R, { next });
    case 'switched': return with_([N, R], N, { next });
    case 'dropped': return { root: next, trustAnchors: [N], issuerRoot: N, trustBundleHash: hashOf([N]) };
  }
}

const complete: Extract<RolloutVerdict, { state: 'complete' }> = { state: 'complete', outdatedWorkloads: 0, skipped: [], barePods: [] };

function observe(stage: Stage, phase: RotationPhase | undefined, over: Partial<RotationObservation> = {}): RotationObservation {
  const ca = caAt(stage);
  return {
    caType: 'SelfSigned',
    settings: { automatic: true, renewBeforeMs: 720 * HOUR, trigger: '1' },
    recorded: phase === undefined ? undefined : { phase, lastTrigger: '1', ...(phase === 'Idle' ? {} : { startedAt: STARTED }) },
    ca,
    rollout: complete,
    podBundles: { [ca.trustBundleHash]: 3 },
    ...over,
  };
}

/** When the identity service was seen on the new issuer, and pod creation times around it (timestamps have a second's resolution). */
const SINCE = NOW - 60_000;
const BEFORE = SINCE - 1000;
const AFTER = SINCE + 1000;

/** The identity service as observed: on the new issuer since `since` (absent: not yet), the current bundle's pods created at `created`, none restarted by the rollout. */
const identityOf = (since: number | undefined, created: number[]): IdentityObservation => ({ ...(since === undefined ? {} : { onNewIssuerSince: since }), currentPods: created.map((createdAt) => ({ createdAt, restartedForTarget: false })) });

/** Pods all on a bundle other than the current one (a restart toward the current one is due). */
const behind = (anchors: string[], pods = 3) => ({ podBundles: { [hashOf(anchors)]: pods } });

interface Row {
  name: string;
  observed: RotationObservation;
  action: RotationAction;
  phase: RotationPhase;
  reason?: string;
  started?: RotationPlan['started'];
}

const ROWS: Row[] = [
  // Idle and the triggers.
  { name: 'idle, nothing due', observed: observe('single', 'Idle'), action: 'none', phase: 'Idle' },
  { name: 'no record yet: the trigger the installation was created with is adopted, not acted on', observed: observe('single', undefined), action: 'none', phase: 'Idle' },
  { name: 'trigger bumped: a rotation starts by generating the new root', observed: observe('single', 'Idle', { settings: { automatic: false, renewBeforeMs: HOUR, trigger: '2' } }), action: 'generateNewRoot', phase: 'ExtendingTrustBundle', reason: RotationReason.ExtendingTrustBundle, started: 'Trigger' },
  { name: 'trigger removed: nothing starts', observed: observe('single', 'Idle', { settings: { automatic: false, renewBeforeMs: HOUR } }), action: 'none', phase: 'Idle' },
  { name: 'root within renewBefore, automatic: a rotation starts', observed: observe('single', 'Idle', { ca: { ...caAt('single'), root: { fingerprint: R, notAfter: NOW + 700 * HOUR } } }), action: 'generateNewRoot', phase: 'ExtendingTrustBundle', started: 'Automatic' },
  { name: 'root within renewBefore, automatic off: nothing starts', observed: observe('single', 'Idle', { settings: { automatic: false, renewBeforeMs: 720 * HOUR, trigger: '1' }, ca: { ...caAt('single'), root: { fingerprint: R, notAfter: NOW + 700 * HOUR } } }), action: 'none', phase: 'Idle' },
  { name: 'External: the Secret holds a new root, so the overlap path starts', observed: observe('single', 'Idle', { caType: 'External', externalRoot: N }), action: 'stageExternalRoot', phase: 'ExtendingTrustBundle', started: 'ExternalRootChanged' },
  { name: 'External: a trigger alone does not rotate', observed: observe('single', 'Idle', { caType: 'External', externalRoot: R, settings: { automatic: true, renewBeforeMs: HOUR, trigger: '2' } }), action: 'none', phase: 'Idle' },
  { name: 'External: an expiring root is not rotated by the operator', observed: observe('single', 'Idle', { caType: 'External', externalRoot: R, ca: { ...caAt('single'), root: { fingerprint: R, notAfter: NOW + HOUR } } }), action: 'none', phase: 'Idle' },

  // ExtendingTrustBundle.
  { name: 'extending, no new root in the state (killed before it was stored): generate it', observed: observe('single', 'ExtendingTrustBundle'), action: 'generateNewRoot', phase: 'ExtendingTrustBundle' },
  { name: 'extending, new root stored (killed after): never a second one, publish the overlap', observed: observe('staged', 'ExtendingTrustBundle'), action: 'publishOverlapBundle', phase: 'ExtendingTrustBundle' },
  { name: 'extending, overlap published: wait for the data plane', observed: observe('overlap', 'ExtendingTrustBundle', { ...behind([R]), rollout: { state: 'pending' } }), action: 'waitForDataPlane', phase: 'RestartingForTrustBundle', reason: RotationReason.RestartingForTrustBundle },
  { name: 'External extending, Secret back to the old root before anything was published: cancelled', observed: observe('single', 'ExtendingTrustBundle', { caType: 'External', externalRoot: R }), action: 'complete', phase: 'Idle' },
  { name: 'External extending, not staged yet: stage the user\'s root', observed: observe('single', 'ExtendingTrustBundle', { caType: 'External', externalRoot: N }), action: 'stageExternalRoot', phase: 'ExtendingTrustBundle' },

  // RestartingForTrustBundle.
  { name: 'restarting for the bundle, rollout under way', observed: observe('overlap', 'RestartingForTrustBundle', { ...behind([R]), rollout: { state: 'in-progress', progress: '1/3' } }), action: 'waitForDataPlane', phase: 'RestartingForTrustBundle' },
  { name: 'restarting for the bundle, a batch failed the health gate: paused, overlap kept', observed: observe('overlap', 'RestartingForTrustBundle', { ...behind([R]), rollout: { state: 'halted', failures: [], message: 'Deployment shop/cart failed the health gate (CrashLoop)' } }), action: 'pause', phase: 'RestartingForTrustBundle', reason: RotationReason.Paused },
  { name: 'restarting for the bundle, restarts disabled: paused', observed: observe('overlap', 'RestartingForTrustBundle', { ...behind([R]), rollout: { state: 'disabled', message: 'disabled' } }), action: 'pause', phase: 'RestartingForTrustBundle', reason: RotationReason.Paused },
  { name: 'restarting for the bundle, rollout done but an opted-out pod holds the old bundle: paused, never switched', observed: observe('overlap', 'RestartingForTrustBundle', { podBundles: { [hashOf([R, N])]: 2, [hashOf([R])]: 1 }, rollout: { ...complete, skipped: ['Deployment shop/legacy'] } }), action: 'pause', phase: 'RestartingForTrustBundle', reason: RotationReason.Paused },
  { name: 'restarting for the bundle, a terminating pod still holds the old bundle: wait', observed: observe('overlap', 'RestartingForTrustBundle', { podBundles: { [hashOf([R, N])]: 3, [hashOf([R])]: 1 }, rollout: { state: 'in-progress', progress: '3/3' } }), action: 'waitForDataPlane', phase: 'RestartingForTrustBundle' },
  { name: 'restarting for the bundle, every pod holds old + new: switch the issuer', observed: observe('overlap', 'RestartingForTrustBundle'), action: 'switchIssuer', phase: 'SwitchingIssuer', reason: RotationReason.SwitchingIssuer },
  { name: 'restarting for the bundle, no injected pods: switch the issuer', observed: observe('overlap', 'RestartingForTrustBundle', { podBundles: {} }), action: 'switchIssuer', phase: 'SwitchingIssuer' },
  { name: 'restarting for the bundle, restarts disabled but the user restarted every pod: switch', observed: observe('overlap', 'RestartingForTrustBundle', { rollout: { state: 'disabled', message: 'disabled' } }), action: 'switchIssuer', phase: 'SwitchingIssuer' },
  { name: 'restarting for the bundle, the bundle lost the new root (restored Secret): publish it again', observed: observe('staged', 'RestartingForTrustBundle'), action: 'publishOverlapBundle', phase: 'ExtendingTrustBundle' },

  // SwitchingIssuer.
  { name: 'switching (killed before the switch): the gate is checked again, then switch', observed: observe('overlap', 'SwitchingIssuer'), action: 'switchIssuer', phase: 'SwitchingIssuer' },
  { name: 'switching, a pod on the old bundle appeared: no switch', observed: observe('overlap', 'SwitchingIssuer', { ...behind([R], 1), rollout: { state: 'in-progress', progress: '2/3' } }), action: 'waitForDataPlane', phase: 'SwitchingIssuer' },
  { name: 'switching (killed after the switch): restart for the issuer', observed: observe('switched', 'SwitchingIssuer', { ...behind([R, N]), rollout: { state: 'pending' } }), action: 'waitForDataPlane', phase: 'RestartingForIssuer', reason: RotationReason.RestartingForIssuer },

  // RestartingForIssuer.
  { name: 'restarting for the issuer, pods from before the switch remain: wait, old root kept', observed: observe('switched', 'RestartingForIssuer', { podBundles: { [hashOf([R, N])]: 1, [hashOf([N, R])]: 2 }, rollout: { state: 'in-progress', progress: '2/3' } }), action: 'waitForDataPlane', phase: 'RestartingForIssuer' },
  { name: 'restarting for the issuer, halted: paused with the overlap bundle', observed: observe('switched', 'RestartingForIssuer', { ...behind([R, N]), rollout: { state: 'halted', failures: [], message: 'halted' } }), action: 'pause', phase: 'RestartingForIssuer', reason: RotationReason.Paused },
  { name: 'restarting for the issuer, every pod restarted after the switch: drop the old root', observed: observe('switched', 'RestartingForIssuer'), action: 'publishNewRootOnly', phase: 'DroppingOldRoot', reason: RotationReason.DroppingOldRoot },

  // RestartingForIssuer with an identity service that restarts onto the switched material (issue #17: the new-pod race).
  { name: 'restarting for the issuer, every pod on the bundle but the identity service not yet on the new issuer: wait, old root kept', observed: observe('switched', 'RestartingForIssuer', { identity: identityOf(undefined, [AFTER, AFTER, AFTER]) }), action: 'waitForDataPlane', phase: 'RestartingForIssuer', reason: RotationReason.RestartingForIssuer },
  { name: 'restarting for the issuer, a pod created (not restarted) before the identity service ran the new issuer, rollout done: paused, old root kept', observed: observe('switched', 'RestartingForIssuer', { identity: identityOf(SINCE, [AFTER, AFTER, BEFORE]) }), action: 'pause', phase: 'RestartingForIssuer', reason: RotationReason.Paused },
  { name: 'restarting for the issuer, a pod created in the window while the rollout still restarts: wait, old root kept', observed: observe('switched', 'RestartingForIssuer', { identity: identityOf(SINCE, [AFTER, BEFORE, BEFORE]), rollout: { state: 'in-progress', progress: '3/3' } }), action: 'waitForDataPlane', phase: 'RestartingForIssuer' },
  { name: 'restarting for the issuer, a pod created in the second the identity service became available counts as before it: paused', observed: observe('switched', 'RestartingForIssuer', { identity: identityOf(SINCE, [AFTER, AFTER, SINCE]) }), action: 'pause', phase: 'RestartingForIssuer', reason: RotationReason.Paused },
  { name: 'restarting for the issuer, the pods the rollout restarted for this target count whenever created: drop the old root', observed: observe('switched', 'RestartingForIssuer', { identity: { onNewIssuerSince: SINCE, currentPods: [{ createdAt: BEFORE, restartedForTarget: true }, { createdAt: SINCE, restartedForTarget: true }, { createdAt: AFTER, restartedForTarget: false }] } }), action: 'publishNewRootOnly', phase: 'DroppingOldRoot' },
  { name: 'restarting for the issuer, identity on the new issuer and every pod created after it: drop the old root', observed: observe('switched', 'RestartingForIssuer', { identity: identityOf(SINCE, [AFTER, AFTER, AFTER]) }), action: 'publishNewRootOnly', phase: 'DroppingOldRoot', reason: RotationReason.DroppingOldRoot },
  { name: 'switching (killed after the switch), every pod on the bundle, identity not yet on the new issuer: wait in RestartingForIssuer', observed: observe('switched', 'SwitchingIssuer', { identity: identityOf(undefined, [AFTER, AFTER, AFTER]) }), action: 'waitForDataPlane', phase: 'RestartingForIssuer' },
  { name: 'dropping (killed before the drop), a pod created in the window since: paused, old root kept', observed: observe('switched', 'DroppingOldRoot', { identity: identityOf(SINCE, [BEFORE, AFTER, AFTER]) }), action: 'pause', phase: 'DroppingOldRoot', reason: RotationReason.Paused },
  { name: 'dropping, new-only bundle published: the identity gate is behind us (its rollout onto [N] starts again)', observed: observe('dropped', 'DroppingOldRoot', { identity: identityOf(undefined, [BEFORE, BEFORE, BEFORE]) }), action: 'complete', phase: 'Idle' },

  // DroppingOldRoot.
  { name: 'dropping (killed before the drop): drop it', observed: observe('switched', 'DroppingOldRoot'), action: 'publishNewRootOnly', phase: 'DroppingOldRoot' },
  { name: 'dropping, new-only bundle published: wait for the last restart', observed: observe('dropped', 'DroppingOldRoot', { ...behind([N, R]), rollout: { state: 'in-progress', progress: '0/3' } }), action: 'waitForDataPlane', phase: 'DroppingOldRoot' },
  { name: 'dropping, every pod holds the new root only: complete', observed: observe('dropped', 'DroppingOldRoot'), action: 'complete', phase: 'Idle', reason: RotationReason.Completed },

  // Status lost mid-rotation: the CA state decides.
  { name: 'status Idle but a new root is staged: resume publishing, no second root', observed: observe('staged', 'Idle'), action: 'publishOverlapBundle', phase: 'ExtendingTrustBundle' },
  { name: 'status Idle but the overlap is published: resume the wait', observed: observe('overlap', 'Idle', { ...behind([R]), rollout: { state: 'pending' } }), action: 'waitForDataPlane', phase: 'RestartingForTrustBundle' },
  { name: 'status Idle but the issuer was switched: resume the wait for the issuer', observed: observe('switched', 'Idle', { ...behind([R, N]), rollout: { state: 'pending' } }), action: 'waitForDataPlane', phase: 'RestartingForIssuer' },

  // Contradictions pause for a person.
  { name: 'restarting for the issuer but the state holds one root: paused, nothing changed', observed: observe('single', 'RestartingForIssuer'), action: 'pause', phase: 'RestartingForIssuer', reason: RotationReason.StateMismatch },
  { name: 'restarting for the bundle but the issuer is already the new root\'s: paused', observed: observe('switched', 'RestartingForTrustBundle'), action: 'pause', phase: 'RestartingForTrustBundle', reason: RotationReason.StateMismatch },
  { name: 'issuer signed by a root that is not published: paused', observed: observe('single', 'Idle', { ca: { ...caAt('single'), issuerRoot: N } }), action: 'pause', phase: 'Idle', reason: RotationReason.StateMismatch },
];

for (const row of ROWS) {
  test(`planRootRotation: ${row.name}`, () => {
    const plan = planRootRotation(row.observed, NOW);
    assert.equal(plan.action, row.action);
    assert.equal(plan.record.phase, row.phase);
    if (row.reason) assert.equal(plan.condition?.reason, row.reason);
    assert.equal(plan.started, row.started);
    // A paused rotation says so (False), with the reason; a rotation under way keeps the CA Ready.
    if (plan.action === 'pause') assert.equal(plan.condition?.status, 'False');
    else if (plan.condition) assert.equal(plan.condition.status, 'True');
    // A state that already breaks the invariant (a contradiction row) is paused, not judged here.
    if (row.reason !== RotationReason.StateMismatch) assertInvariantOfStep(row.observed, plan);
  });
}

/**
 * The invariant over one step, for any row: after the action, the bundle published contains the
 * root of the issuer, and of every certificate a pod may still hold.
 */
function assertInvariantOfStep(observed: RotationObservation, plan: RotationPlan): void {
  const before = observed.ca;
  // Roots of certificates pods may hold: the issuer's, and the previous issuer's until all pods restarted after the switch.
  const mayBeShown = new Set([before.issuerRoot]);
  if (before.next && before.issuerRoot === before.next.fingerprint) mayBeShown.add(before.root.fingerprint);
  if (plan.action === 'switchIssuer') {
    assert.ok(before.next !== undefined, 'a switch needs a new root');
    // Every pod already trusts the new root: all hold the current (overlap) bundle.
    assert.deepEqual(Object.keys(observed.podBundles).filter((hash) => observed.podBundles[hash]! > 0 && hash !== before.trustBundleHash), []);
    assert.ok(before.trustAnchors.includes(before.next.fingerprint), 'the new root is published before the switch');
  }
  if (plan.action === 'publishNewRootOnly') {
    // The old root leaves only when no pod started before the switch remains.
    assert.equal(before.issuerRoot, before.next?.fingerprint);
    assert.deepEqual(Object.keys(observed.podBundles).filter((hash) => hash !== before.trustBundleHash), []);
    // ...and, where an identity service signs, it runs the new issuer and no pod may hold a certificate it signed before.
    if (observed.identity) {
      assert.notEqual(observed.identity.onNewIssuerSince, undefined, 'the old root left before the identity service ran the new issuer');
      assert.equal(podsMaybeOnOldIssuer(observed.identity), 0, 'the old root left under a pod created before the identity service ran the new issuer');
    }
  }
  if (plan.action === 'generateNewRoot') assert.equal(before.next, undefined, 'never a second new root');
  if (['publishOverlapBundle', 'publishNewRootOnly'].includes(plan.action)) assert.ok(before.next !== undefined, `${plan.action} needs a staged root`);
  for (const root of mayBeShown) if (plan.action !== 'publishNewRootOnly') assert.ok(before.trustAnchors.includes(root), `the bundle lacks root ${root} of a certificate that may be shown`);
}

test('planRootRotation: a started rotation records startedAt and the trigger acted on; completion records completedAt and clears startedAt', () => {
  const started = planRootRotation(observe('single', 'Idle', { settings: { automatic: true, renewBeforeMs: HOUR, trigger: '7' } }), NOW);
  assert.deepEqual(started.record, { phase: 'ExtendingTrustBundle', lastTrigger: '7', startedAt: '2026-11-27T12:00:00Z' });
  assert.equal(started.event?.reason, 'RootRotationStarted');
  const done = planRootRotation(observe('dropped', 'DroppingOldRoot'), NOW);
  assert.deepEqual(done.record, { phase: 'Idle', lastTrigger: '1', completedAt: '2026-11-27T12:00:00Z' });
  assert.match(done.condition!.message, /only root bb:bb/);
});

test('planRootRotation: Idle (or no record) with one root and none staged reads no pod, no rollout and no identity service — the executor skips scanning pods then', () => {
  const podViews: Array<Partial<RotationObservation>> = [
    {},
    { podBundles: {}, rollout: { state: 'halted', message: 'batch 1 failed', failures: [] } },
    { podBundles: { 'sha256:other': 40 }, rollout: { state: 'in-progress', progress: '1/3' }, identity: identityOf(undefined, [BEFORE]) },
  ];
  const cases: Array<[string, Stage, RotationPhase | undefined, Partial<RotationObservation>]> = [
    ['idle, nothing due', 'single', 'Idle', {}],
    ['idle, a new trigger', 'single', 'Idle', { settings: { automatic: true, renewBeforeMs: HOUR, trigger: '7' } }],
    ['idle, the root due', 'single', 'Idle', { ca: { ...caAt('single'), root: { fingerprint: R, notAfter: NOW + HOUR } } }],
    ['no record yet', 'single', undefined, {}],
  ];
  for (const [name, stage, phase, over] of cases) {
    const plans = podViews.map((view) => planRootRotation(observe(stage, phase, { ...over, ...view }), NOW));
    for (const plan of plans.slice(1)) assert.deepEqual(plan, plans[0], name);
  }
  // With a next root in the CA state, Idle is a status lost mid-rotation: the resumed phase's gates read the pods.
  const resumed = podViews.map((view) => planRootRotation(observe('switched', 'Idle', view), NOW));
  assert.notDeepEqual(resumed[2], resumed[0], 'a switched issuer found in Idle waits for the pods');
});

test('planRootRotation: an automatic rotation keeps lastTrigger and is woken when the root falls due', () => {
  const due = NOW + 100 * HOUR;
  const idle = planRootRotation(observe('single', 'Idle', { ca: { ...caAt('single'), root: { fingerprint: R, notAfter: due + 720 * HOUR } } }), NOW);
  assert.equal(idle.wakeAt, due);
  const started = planRootRotation(observe('single', 'Idle', { ca: { ...caAt('single'), root: { fingerprint: R, notAfter: due + 720 * HOUR } } }), due);
  assert.equal(started.started, 'Automatic');
  assert.equal(started.record.lastTrigger, '1');
});

test('planRootRotation: a second trigger during a rotation does not restart it; it is shown queued and runs after', () => {
  const bumped = { settings: { automatic: true, renewBeforeMs: HOUR, trigger: '2' } };
  for (const [stage, phase] of [['staged', 'ExtendingTrustBundle'], ['overlap', 'RestartingForTrustBundle'], ['switched', 'RestartingForIssuer']] as const) {
    const plan = planRootRotation(observe(stage, phase, { ...bumped, ...behind(['x']), rollout: { state: 'in-progress', progress: '0/3' } }), NOW);
    assert.notEqual(plan.action, 'generateNewRoot');
    assert.equal(plan.record.phase, phase);
    assert.equal(plan.record.lastTrigger, '1');
    assert.equal(plan.record.startedAt, STARTED, 'the rotation under way keeps its start');
    assert.match(plan.condition!.message, /trigger 2 is queued/);
  }
  const done = planRootRotation(observe('dropped', 'DroppingOldRoot', bumped), NOW);
  assert.equal(done.action, 'complete');
  assert.match(done.condition!.message, /trigger 2 starts the next rotation/);
  // The next pass, from the state the completion left: the queued trigger starts a new rotation.
  const next = planRootRotation({ ...observe('dropped', 'Idle', bumped), recorded: done.record }, NOW + 1000);
  assert.equal(next.action, 'generateNewRoot');
  assert.equal(next.started, 'Trigger');
  assert.equal(next.record.lastTrigger, '2');
});

test('planRootRotation: a halted rollout pauses and the rotation goes on by itself once the workload is fixed', () => {
  const halted = planRootRotation(observe('overlap', 'RestartingForTrustBundle', { ...behind([R]), rollout: { state: 'halted', failures: [], message: 'Deployment shop/cart crash-loops' } }), NOW);
  assert.equal(halted.action, 'pause');
  assert.match(halted.condition!.message, /shop\/cart crash-loops/);
  assert.match(halted.condition!.message, /keeps every proxy working/);
  assert.equal(halted.record.phase, 'RestartingForTrustBundle', 'a pause keeps the phase: nothing is undone');
  const resumed = planRootRotation(observe('overlap', 'RestartingForTrustBundle', { ...behind([R], 1), rollout: { state: 'in-progress', progress: '2/3' } }), NOW + HOUR);
  assert.equal(resumed.action, 'waitForDataPlane');
  const through = planRootRotation(observe('overlap', 'RestartingForTrustBundle'), NOW + 2 * HOUR);
  assert.equal(through.action, 'switchIssuer');
});

test('planRootRotation: a pause names the pods a restart will not update', () => {
  const plan = planRootRotation(observe('switched', 'RestartingForIssuer', { podBundles: { [hashOf([N, R])]: 2, [hashOf([R, N])]: 2 }, rollout: { state: 'complete', outdatedWorkloads: 1, skipped: ['Deployment shop/legacy'], barePods: ['shop/debug'] } }), NOW);
  assert.equal(plan.action, 'pause');
  for (const expected of [/2 pod\(s\)/, /shop\/legacy/, /shop\/debug/, /1 workload/]) assert.match(plan.condition!.message, expected);
});

/** A deterministic generator (mulberry32), so a failing sequence can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A pod: the bundle it holds, the root of its workload certificate, when it was created and the rollout target it was restarted for (if any). */
interface Pod { bundle: string[]; certRoot: string; optOut: boolean; createdAt: number; restartedFor?: string }

interface Cluster {
  root: string;
  rootNotAfter: number;
  next?: string;
  anchors: string[];
  issuerRoot: string;
  recorded?: RotationRecord;
  pods: Pod[];
  rootsMade: number;
  /** New roots that became the only root (each rotation promotes exactly one). */
  promoted: number;
  halted: boolean;
  trigger: string;
  /** The root of the issuer the identity service signs with: the issuer it loaded when it last rolled out. */
  identityRoot: string;
  /** The bundle hash it last rolled out onto, and when that rollout completed. */
  identityAnchors: string;
  identitySince: number;
}

/** The invariant over the whole cluster: every proxy trusts the root of every certificate it can be shown. */
function assertInvariant(cluster: Cluster, where: string): void {
  const shown = new Set([cluster.issuerRoot, cluster.identityRoot, ...cluster.pods.map((pod) => pod.certRoot)]);
  for (const root of shown) assert.ok(cluster.anchors.includes(root), `${where}: the published bundle [${cluster.anchors}] lacks root ${root}, shown by a certificate`);
  for (const pod of cluster.pods) {
    for (const root of shown) assert.ok(pod.bundle.includes(root), `${where}: a pod holding [${pod.bundle}] can be shown a certificate of root ${root}`);
  }
}

function observeCluster(cluster: Cluster, now: number): RotationObservation {
  const current = hashOf(cluster.anchors);
  const podBundles: Record<string, number> = {};
  for (const pod of cluster.pods) podBundles[hashOf(pod.bundle)] = (podBundles[hashOf(pod.bundle)] ?? 0) + 1;
  const restartable = cluster.pods.filter((pod) => !pod.optOut && hashOf(pod.bundle) !== current);
  const rollout: RolloutVerdict = cluster.halted && restartable.length > 0
    ? { state: 'halted', failures: [], message: 'a batch failed the health gate' }
    : restartable.length > 0 ? { state: 'in-progress', progress: 'x' } : { ...complete, skipped: cluster.pods.some((pod) => pod.optOut && hashOf(pod.bundle) !== current) ? ['Deployment a/b'] : [] };
  return {
    caType: 'SelfSigned',
    settings: { automatic: true, renewBeforeMs: 720 * HOUR, trigger: cluster.trigger },
    recorded: cluster.recorded,
    ca: {
      root: { fingerprint: cluster.root, notAfter: cluster.rootNotAfter },
      next: cluster.next ? { fingerprint: cluster.next, notAfter: now + 8000 * HOUR } : undefined,
      trustAnchors: cluster.anchors,
      issuerRoot: cluster.issuerRoot,
      trustBundleHash: current,
    },
    rollout,
    podBundles,
    identity: {
      ...(cluster.identityAnchors === current ? { onNewIssuerSince: cluster.identitySince } : {}),
      currentPods: cluster.pods.filter((pod) => hashOf(pod.bundle) === current).map((pod) => ({ createdAt: pod.createdAt, restartedForTarget: pod.restartedFor === current })),
    },
  };
}

/** The identity service completes its rollout onto the bundle published now: it signs with the issuer in use from then on. */
function identityRollsOut(cluster: Cluster, now: number): void {
  Object.assign(cluster, { identityRoot: cluster.issuerRoot, identityAnchors: hashOf(cluster.anchors), identitySince: now });
}

/** A pod as the API server creates it now: the webhook gives it the bundle published now, the identity service a certificate of the issuer it runs. */
function freshPod(cluster: Cluster, now: number, restartedFor?: string): Pick<Pod, 'bundle' | 'certRoot' | 'createdAt' | 'restartedFor'> {
  return { bundle: [...cluster.anchors], certRoot: cluster.identityRoot, createdAt: now, restartedFor };
}

/** Runs an action on the modelled cluster as the wiring would, asserting its preconditions. */
function act(cluster: Cluster, action: RotationAction, now: number): void {
  switch (action) {
    case 'generateNewRoot':
      assert.equal(cluster.next, undefined, 'a new root while one is staged');
      cluster.next = `N${++cluster.rootsMade}`;
      return;
    case 'publishOverlapBundle':
      cluster.anchors = [cluster.root, cluster.next!];
      return;
    case 'switchIssuer':
      cluster.issuerRoot = cluster.next!;
      cluster.anchors = [cluster.next!, cluster.root];
      return;
    case 'publishNewRootOnly':
      if (cluster.next !== cluster.root) cluster.promoted++;
      cluster.root = cluster.next!;
      cluster.rootNotAfter = now + 8000 * HOUR;
      cluster.next = undefined;
      cluster.anchors = [cluster.root];
      return;
    default:
      return;
  }
}

const phasesSeen = new Set<string>();
const actionsSeen = new Set<string>();

test('planRootRotation: over generated sequences with kills, halts, opt-outs, certificate renewals and queued triggers, the invariant holds at every instant and each rotation makes one root', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const rand = random(seed);
    const cluster: Cluster = {
      root: 'R0', rootNotAfter: NOW + 5000 * HOUR, anchors: ['R0'], issuerRoot: 'R0', recorded: { phase: 'Idle', lastTrigger: '0' },
      pods: Array.from({ length: 1 + Math.floor(rand() * 5) }, () => ({ bundle: ['R0'], certRoot: 'R0', optOut: false, createdAt: NOW - 2000 })),
      rootsMade: 0, promoted: 0, halted: false, trigger: '0',
      identityRoot: 'R0', identityAnchors: hashOf(['R0']), identitySince: NOW - 1000,
    };
    let now = NOW;
    let rotationsStarted = 0;
    let completed = 0;
    for (let i = 0; i < 400; i++) {
      const where = `seed ${seed} step ${i}`;
      // A second passes between steps (creation times are compared with the identity service's).
      now += 1000;
      const roll = rand();
      if (roll < 0.33) {
        // The operator runs one step (advancePhase): record, then act; a kill may cut it anywhere.
        const plan = planRootRotation(observeCluster(cluster, now), now);
        if (plan.started) rotationsStarted++;
        if (plan.action === 'complete' && plan.record.completedAt) completed++;
        phasesSeen.add(plan.record.phase);
        actionsSeen.add(plan.action);
        const kill = rand();
        if (kill < 0.1) continue;
        cluster.recorded = plan.record;
        if (kill < 0.2) continue;
        act(cluster, plan.action, now);
      } else if (roll < 0.58) {
        // The rollout restarts an outdated pod (a new pod, marked with the target), once the control plane runs the published bundle.
        if (cluster.halted || cluster.identityAnchors !== hashOf(cluster.anchors)) continue;
        const pod = cluster.pods[Math.floor(rand() * cluster.pods.length)]!;
        if (!pod.optOut && hashOf(pod.bundle) !== hashOf(cluster.anchors)) Object.assign(pod, freshPod(cluster, now, hashOf(cluster.anchors)));
      } else if (roll < 0.7) {
        // A proxy renews its workload certificate from the identity service, without a restart.
        cluster.pods[Math.floor(rand() * cluster.pods.length)]!.certRoot = cluster.identityRoot;
      } else if (roll < 0.78) {
        identityRollsOut(cluster, now);
      } else if (roll < 0.83) {
        // A pod created outside the rollout (a scale-up, an eviction replaced, a person deleting one): possibly in the window after an issuer switch.
        Object.assign(cluster.pods[Math.floor(rand() * cluster.pods.length)]!, freshPod(cluster, now));
      } else if (roll < 0.87) {
        cluster.halted = !cluster.halted;
      } else if (roll < 0.9) {
        // A person opts a workload out, or back in and restarts it by hand.
        const pod = cluster.pods[Math.floor(rand() * cluster.pods.length)]!;
        if (pod.optOut) Object.assign(pod, { optOut: false, ...freshPod(cluster, now) });
        else pod.optOut = true;
      } else if (roll < 0.95) {
        cluster.trigger = String(Number(cluster.trigger) + 1);
      } else {
        now += 500 * HOUR;
      }
      assertInvariant(cluster, where);
    }
    // Quiesce: faults cleared, pods opted back in; every rotation started finishes and the queue drains.
    cluster.halted = false;
    for (const pod of cluster.pods) pod.optOut = false;
    for (let i = 0; i < 200 && (cluster.recorded?.phase !== 'Idle' || cluster.trigger !== cluster.recorded.lastTrigger); i++) {
      const plan = planRootRotation(observeCluster(cluster, now), now);
      if (plan.started) rotationsStarted++;
      if (plan.action === 'complete' && plan.record.completedAt) completed++;
      cluster.recorded = plan.record;
      act(cluster, plan.action, now);
      identityRollsOut(cluster, now);
      now += 1000;
      for (const pod of cluster.pods) Object.assign(pod, freshPod(cluster, now, hashOf(cluster.anchors)));
      assertInvariant(cluster, `seed ${seed} quiesce ${i}`);
    }
    assert.equal(cluster.recorded?.phase, 'Idle', `seed ${seed}: the rotation did not finish`);
    assert.equal(cluster.recorded?.lastTrigger, cluster.trigger, `seed ${seed}: a queued trigger never ran`);
    assert.deepEqual(cluster.anchors, [cluster.root], `seed ${seed}: more than one root left published`);
    // One new root per rotation: a kill never made a second one (a root lost before it was stored is not counted: it never existed).
    assert.ok(cluster.rootsMade <= rotationsStarted, `seed ${seed}: ${cluster.rootsMade} roots for ${rotationsStarted} rotations`);
    assert.ok(completed >= 1 || cluster.rootsMade === 0, `seed ${seed}: roots made but no rotation completed`);
    assert.equal(cluster.promoted, cluster.rootsMade, `seed ${seed}: a generated root was never promoted (a second root in one rotation)`);
  }
  // The sequences reached every phase and every action, pauses included: the property was exercised.
  assert.deepEqual([...phasesSeen].sort(), ['DroppingOldRoot', 'ExtendingTrustBundle', 'Idle', 'RestartingForIssuer', 'RestartingForTrustBundle', 'SwitchingIssuer']);
  assert.deepEqual([...actionsSeen].sort(), ['complete', 'generateNewRoot', 'none', 'pause', 'publishNewRootOnly', 'publishOverlapBundle', 'switchIssuer', 'waitForDataPlane']);
});

test('planRootRotation: no output holds key material, from a real CA through every phase', async () => {
  const settings: AuthoritySettings = {
    profile: { root: { commonName: 'root' }, issuer: { commonName: 'issuer' }, defaultKeyAlgorithm: 'ECDSAP256', keyAlgorithms: ['ECDSAP256'], published: { trustAnchors: [], keyHolders: [] } },
    keyAlgorithm: 'ECDSAP256', rootTtlMs: 1000 * HOUR, issuerTtlMs: 100 * HOUR, renewBeforeMs: HOUR,
  };
  const [old, fresh] = await Promise.all([createSelfSignedAuthority(settings, NOW), createSelfSignedAuthority(settings, NOW)]);
  const [oldInfo, freshInfo] = await Promise.all([describeCertificate(old.root!.certificatePem), describeCertificate(fresh.root!.certificatePem)]);
  const keys = [old.root!.privateKeyPem, old.issuer.privateKeyPem, fresh.root!.privateKeyPem, fresh.issuer.privateKeyPem];
  const rename = (fingerprint: string) => (fingerprint === R ? oldInfo.sha256Fingerprint : fingerprint === N ? freshInfo.sha256Fingerprint : fingerprint);
  let checked = 0;
  for (const row of ROWS) {
    const ca = row.observed.ca;
    const real: RotationObservation = {
      ...row.observed,
      externalRoot: row.observed.externalRoot && rename(row.observed.externalRoot),
      ca: {
        ...ca, root: { ...ca.root, fingerprint: rename(ca.root.fingerprint) }, next: ca.next && { ...ca.next, fingerprint: rename(ca.next.fingerprint) },
        trustAnchors: ca.trustAnchors.map(rename), issuerRoot: rename(ca.issuerRoot),
      },
    };
    const text = JSON.stringify(planRootRotation(real, NOW));
    assert.equal(containsKeyMaterial(text), false, row.name);
    for (const key of keys) {
      const body = key.replace(/-----[^-]+-----|\s/g, '');
      assert.ok(!text.includes(body.slice(20, 60)), `${row.name}: a private key's base64`);
      assert.ok(!text.includes(Buffer.from(body, 'base64').toString('hex').slice(20, 80)), `${row.name}: a private key's hex`);
    }
    checked++;
  }
  assert.equal(checked, ROWS.length);
});
