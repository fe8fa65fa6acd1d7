/**
 * Namespace enrolment planning (enrolment.ts): which namespaces get the mesh's label, which lose
 * it, and which are left as a person labelled them — table by table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Informer } from '../../runtime/informer.ts';
import type { PassContext } from './context.ts';
import { resolveTarget } from './resolve.ts';
import { newPassScope, type InstallationObject } from './scope.ts';
import { ENROLLED_BY_ANNOTATION, ENROLLED_LABEL_ANNOTATION, enrolNamespaces, enrolmentMayChange, enrolmentPatch, planEnrolment, recordedLabel, type EnrolmentInput, type NamespaceState } from './enrolment.ts';
import { selectorMatches, type LabelSelectorSpec } from './label-selector.ts';
import { withSpecDefaults } from '../../api/defaults.ts';
import type { DefaultedMeshInstallation } from '../../api/meshinstallation.ts';
import { istioDistribution } from '../../distributions/istio/index.ts';
import { linkerdDistribution } from '../../distributions/linkerd/index.ts';

const label = { key: 'istio-injection', value: 'enabled' };
const ours = { [ENROLLED_BY_ANNOTATION]: 'mesh' };
const ns = (name: string, labels?: Record<string, string>, annotations?: Record<string, string>, extra: Partial<NamespaceState> = {}): NamespaceState => ({ name, labels, annotations, resourceVersion: '7', ...extra });
const plan = (namespaces: NamespaceState[], selection: EnrolmentInput['selection'], extra: Partial<EnrolmentInput> = {}) =>
  planEnrolment({ installation: 'mesh', controlPlaneNamespace: 'istio-system', label, selection, namespaces, ...extra });

test('label selector: matchLabels and every operator, as upstream evaluates them', () => {
  const labels = { team: 'a', tier: 'web' };
  const cases: Array<[LabelSelectorSpec, boolean]> = [
    [{}, true],
    [{ matchLabels: { team: 'a' } }, true],
    [{ matchLabels: { team: 'b' } }, false],
    [{ matchLabels: { team: 'a', missing: 'x' } }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['db'] }] }, false],
    [{ matchExpressions: [{ key: 'missing', operator: 'In', values: ['x'] }] }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] }, false],
    [{ matchExpressions: [{ key: 'missing', operator: 'NotIn', values: ['x'] }] }, true],
    [{ matchExpressions: [{ key: 'team', operator: 'Exists' }] }, true],
    [{ matchExpressions: [{ key: 'missing', operator: 'Exists' }] }, false],
    [{ matchExpressions: [{ key: 'missing', operator: 'DoesNotExist' }] }, true],
    [{ matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, false],
    [{ matchLabels: { team: 'a' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['db'] }] }, false],
    [{ matchExpressions: [{ key: 'team', operator: 'Gt', values: ['1'] }] }, false],
  ];
  for (const [selector, expected] of cases) assert.equal(selectorMatches(selector, labels), expected, JSON.stringify(selector));
});

test('the decision table: enrol, keep, leave a person\'s label, release, unenrol', () => {
  const rows: Array<{ title: string; namespace: NamespaceState; selected: boolean; action?: unknown; enrolled: boolean; reported?: string }> = [
    { title: 'selected, unlabelled: enrolled', namespace: ns('a'), selected: true, action: { type: 'enrol', namespace: 'a', resourceVersion: '7', removeLabels: [] }, enrolled: true },
    { title: 'selected, already ours and labelled: nothing to write', namespace: ns('a', { 'istio-injection': 'enabled' }, ours), selected: true, enrolled: true },
    { title: 'selected, a person set our value: counted, not claimed', namespace: ns('a', { 'istio-injection': 'enabled' }), selected: true, enrolled: true },
    { title: 'selected, a person opted out: left alone and reported', namespace: ns('a', { 'istio-injection': 'disabled' }), selected: true, enrolled: false, reported: 'LabelSetByUser' },
    { title: 'selected, ours but a person changed the value: only our annotation goes', namespace: ns('a', { 'istio-injection': 'disabled' }, ours), selected: true, action: { type: 'unenrol', namespace: 'a', resourceVersion: '7', removeLabels: [] }, enrolled: false, reported: 'LabelSetByUser' },
    { title: 'selected, ours but a person removed the label: put back', namespace: ns('a', {}, ours), selected: true, action: { type: 'enrol', namespace: 'a', resourceVersion: '7', removeLabels: [] }, enrolled: true },
    { title: 'selected, another installation enrolled it (label removed since): not taken', namespace: ns('a', {}, { [ENROLLED_BY_ANNOTATION]: 'other' }), selected: true, enrolled: false, reported: 'EnrolledByAnotherInstallation' },
    { title: 'not selected, ours: label and annotation removed', namespace: ns('a', { 'istio-injection': 'enabled', team: 'x' }, ours), selected: false, action: { type: 'unenrol', namespace: 'a', resourceVersion: '7', removeLabels: ['istio-injection'] }, enrolled: false },
    { title: 'not selected, ours, label changed by a person: only the annotation goes', namespace: ns('a', { 'istio-injection': 'disabled' }, ours), selected: false, action: { type: 'unenrol', namespace: 'a', resourceVersion: '7', removeLabels: [] }, enrolled: false },
    { title: 'not selected, a person\'s label: untouched, still counted', namespace: ns('a', { 'istio-injection': 'enabled' }), selected: false, enrolled: true },
    { title: 'not selected, unlabelled: nothing', namespace: ns('a', { team: 'x' }), selected: false, enrolled: false },
    { title: 'selected but terminating: never written to', namespace: ns('a', {}, {}, { deletionTimestamp: '2026-01-01T00:00:00Z' }), selected: true, enrolled: false },
    { title: 'not selected, ours but terminating: never written to', namespace: ns('a', { 'istio-injection': 'enabled' }, ours, { deletionTimestamp: '2026-01-01T00:00:00Z' }), selected: false, enrolled: true },
  ];
  for (const row of rows) {
    const result = plan([row.namespace], { namespaces: row.selected ? ['a'] : ['elsewhere'] });
    assert.deepEqual(result.actions, row.action ? [row.action] : [], row.title);
    assert.deepEqual(result.enrolled, row.enrolled ? ['a'] : [], row.title);
    assert.deepEqual(result.notEnrolled.map((n) => n.reason), row.reported ? [row.reported] : [], row.title);
  }
});

test('another label a person routes the mesh\'s injection by (Istio\'s istio.io/rev beside istio-injection) is theirs: never overridden', () => {
  const rows: Array<{ title: string; namespace: NamespaceState; action?: unknown; enrolled: boolean; reported: boolean }> = [
    { title: 'a person\'s revision label: not enrolled, reported', namespace: ns('a', { 'istio.io/rev': 'canary' }), enrolled: false, reported: true },
    { title: 'a revision label added after we enrolled it: ours goes, reported', namespace: ns('a', { 'istio.io/rev': 'canary', 'istio-injection': 'enabled' }, ours), action: { type: 'unenrol', namespace: 'a', resourceVersion: '7', removeLabels: ['istio-injection'] }, enrolled: false, reported: true },
    { title: 'a person set both: theirs, counted as enrolled', namespace: ns('a', { 'istio.io/rev': 'canary', 'istio-injection': 'enabled' }), enrolled: true, reported: false },
    { title: 'an unrelated label changes nothing', namespace: ns('a', { 'istio.io/other': 'x' }), action: { type: 'enrol', namespace: 'a', resourceVersion: '7', removeLabels: [] }, enrolled: true, reported: false },
  ];
  for (const row of rows) {
    const result = plan([row.namespace], { namespaces: ['a'] }, { otherKeys: ['istio.io/rev'] });
    assert.deepEqual(result.actions, row.action ? [row.action] : [], row.title);
    assert.deepEqual(result.enrolled, row.enrolled ? ['a'] : [], row.title);
    assert.deepEqual(result.notEnrolled.map((n) => n.reason), row.reported ? ['LabelSetByUser'] : [], row.title);
  }
  assert.match(plan([ns('a', { 'istio.io/rev': 'canary' })], { namespaces: ['a'] }, { otherKeys: ['istio.io/rev'] }).notEnrolled[0]!.message,
    /^a has istio\.io\/rev=canary, set by someone other than the operator, which routes its injection; it is left as it is \(remove that label to let the operator enrol it with istio-injection=enabled\)$/);
});

test('Istio names the other of its two selection labels; Linkerd has one', () => {
  const installation = (mesh: 'istio' | 'linkerd', version: string) => ({ apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'm' }, spec: withSpecDefaults({ mesh, version, namespace: 'mesh-system' }) }) as DefaultedMeshInstallation;
  const istio = installation('istio', '1.31.1');
  assert.deepEqual(istioDistribution.injector!.enrolmentLabel(istio, istioDistribution.resolve(istio)), { key: 'istio-injection', value: 'enabled' });
  assert.deepEqual(istioDistribution.injector!.otherSelectionLabels!(istio, istioDistribution.resolve(istio)), ['istio.io/rev']);
  const linkerd = installation('linkerd', 'edge-26.8.3');
  assert.equal(linkerdDistribution.injector!.otherSelectionLabels?.(linkerd, linkerdDistribution.resolve(linkerd)), undefined);
});

test('a person\'s label is reported with what is there and what to do', () => {
  const [entry] = plan([ns('shop', { 'istio-injection': 'disabled' })], { namespaces: ['shop'] }).notEnrolled;
  assert.match(entry!.message, /shop has istio-injection=disabled/);
  assert.match(entry!.message, /set istio-injection=enabled or remove the label/);
});

test('selection by label selector; system and control-plane namespaces never enrolled, and reported when selected', () => {
  const namespaces = [ns('kube-system'), ns('kube-public'), ns('kube-node-lease'), ns('istio-system'), ns('default'), ns('shop', { team: 'shop' }), ns('ops', { team: 'ops' })];
  const everything = plan(namespaces, { namespaceSelector: {} });
  assert.deepEqual(everything.actions.map((a) => a.namespace), ['default', 'ops', 'shop']);
  assert.deepEqual(everything.notEnrolled.map((n) => [n.namespace, n.reason]), [
    ['istio-system', 'NamespaceExcluded'], ['kube-node-lease', 'NamespaceExcluded'], ['kube-public', 'NamespaceExcluded'], ['kube-system', 'NamespaceExcluded'],
  ]);
  const shop = plan(namespaces, { namespaceSelector: { matchLabels: { team: 'shop' } } });
  assert.deepEqual(shop.actions.map((a) => a.namespace), ['shop']);
  assert.deepEqual(shop.notEnrolled, []);
  // A system namespace a person labelled is not counted as enrolled (the mesh skips it).
  assert.deepEqual(plan([ns('kube-system', { 'istio-injection': 'enabled' })], {}).enrolled, []);
});

test('a selector is judged on a person\'s labels only: one naming the enrolment key does not flap', () => {
  const selection = { namespaceSelector: { matchExpressions: [{ key: 'istio-injection', operator: 'DoesNotExist' }] } };
  // Unlabelled: selected and enrolled; once enrolled (our label on it), still selected, nothing to write.
  assert.deepEqual(plan([ns('a')], selection).actions, [{ type: 'enrol', namespace: 'a', resourceVersion: '7', removeLabels: [] }]);
  const enrolledOnce = plan([ns('a', { 'istio-injection': 'enabled' }, ours)], selection);
  assert.deepEqual(enrolledOnce.actions, []);
  assert.deepEqual(enrolledOnce.enrolled, ['a']);
  // A person's own istio-injection label deselects it.
  assert.deepEqual(plan([ns('b', { 'istio-injection': 'disabled' })], selection), { actions: [], enrolled: [], notEnrolled: [] });
});

test('no selection enrols nothing and unenrols what the installation enrolled', () => {
  const result = plan([ns('a', { 'istio-injection': 'enabled' }, ours), ns('b')], {});
  assert.deepEqual(result.actions, [{ type: 'unenrol', namespace: 'a', resourceVersion: '7', removeLabels: ['istio-injection'] }]);
});

test('deleting the installation unenrols exactly what it enrolled: not a person\'s label, not another installation\'s', () => {
  const result = plan([
    ns('mine', { 'istio-injection': 'enabled', team: 'x' }, ours),
    ns('theirs', { 'istio-injection': 'enabled' }),
    ns('other', { 'istio-injection': 'enabled' }, { [ENROLLED_BY_ANNOTATION]: 'other' }),
  ], { namespaces: ['mine', 'theirs', 'other'] }, { deleting: true });
  assert.deepEqual(result.actions, [{ type: 'unenrol', namespace: 'mine', resourceVersion: '7', removeLabels: ['istio-injection'] }]);
  assert.deepEqual(result.notEnrolled, []);
});

test('the patches touch only our labels and annotations, guarded by the resourceVersion the plan saw', () => {
  const record = { [ENROLLED_BY_ANNOTATION]: 'mesh', [ENROLLED_LABEL_ANNOTATION]: 'istio-injection=enabled' };
  assert.deepEqual(enrolmentPatch({ type: 'enrol', namespace: 'a', resourceVersion: '7', removeLabels: [] }, 'mesh', label), {
    metadata: { resourceVersion: '7', labels: { 'istio-injection': 'enabled' }, annotations: record },
  });
  assert.deepEqual(enrolmentPatch({ type: 'enrol', namespace: 'a', resourceVersion: '7', removeLabels: ['istio.io/rev'] }, 'mesh', label), {
    metadata: { resourceVersion: '7', labels: { 'istio.io/rev': null, 'istio-injection': 'enabled' }, annotations: record },
  });
  const gone = { [ENROLLED_BY_ANNOTATION]: null, [ENROLLED_LABEL_ANNOTATION]: null };
  assert.deepEqual(enrolmentPatch({ type: 'unenrol', namespace: 'a', resourceVersion: '7', removeLabels: ['istio-injection'] }, 'mesh', label), {
    metadata: { resourceVersion: '7', labels: { 'istio-injection': null }, annotations: gone },
  });
  assert.deepEqual(enrolmentPatch({ type: 'unenrol', namespace: 'a', resourceVersion: '7', removeLabels: [] }, 'mesh', label), {
    metadata: { resourceVersion: '7', annotations: gone },
  });
});

test('the label the operator set is recorded: when the mesh\'s label changes (a revision), ours is replaced, and it is what goes on unenrolment', () => {
  const recorded = (text: string) => ({ [ENROLLED_BY_ANNOTATION]: 'mesh', [ENROLLED_LABEL_ANNOTATION]: text });
  const revision = { key: 'istio.io/rev', value: '1-31-1' };
  const rows: Array<{ title: string; namespace: NamespaceState; wanted: boolean; label?: { key: string; value: string }; action: unknown }> = [
    { title: 'istio-injection of ours gives way to the revision label', namespace: ns('a', { 'istio-injection': 'enabled' }, recorded('istio-injection=enabled')), wanted: true, label: revision,
      action: { type: 'enrol', namespace: 'a', resourceVersion: '7', removeLabels: ['istio-injection'] } },
    { title: 'an older revision of ours moves to the new one (the same key, overwritten)', namespace: ns('a', { 'istio.io/rev': '1-30-4' }, recorded('istio.io/rev=1-30-4')), wanted: true, label: revision,
      action: { type: 'enrol', namespace: 'a', resourceVersion: '7', removeLabels: [] } },
    { title: 'an older label a person changed since is theirs, not removed', namespace: ns('a', { 'istio-injection': 'disabled' }, recorded('istio-injection=enabled')), wanted: true, label: revision,
      action: { type: 'unenrol', namespace: 'a', resourceVersion: '7', removeLabels: [] } },
    { title: 'unenrolled after the label changed: the recorded one goes', namespace: ns('a', { 'istio-injection': 'enabled' }, recorded('istio-injection=enabled')), wanted: false, label: revision,
      action: { type: 'unenrol', namespace: 'a', resourceVersion: '7', removeLabels: ['istio-injection'] } },
    { title: 'the mesh\'s label unknown (version gone from the catalog): the record still says what is ours', namespace: ns('a', { 'istio-injection': 'enabled' }, recorded('istio-injection=enabled')), wanted: false, label: { key: '', value: '' },
      action: { type: 'unenrol', namespace: 'a', resourceVersion: '7', removeLabels: ['istio-injection'] } },
    { title: 'unknown label and no record: only the annotation goes', namespace: ns('a', { 'istio-injection': 'enabled' }, ours), wanted: false, label: { key: '', value: '' },
      action: { type: 'unenrol', namespace: 'a', resourceVersion: '7', removeLabels: [] } },
  ];
  for (const row of rows) {
    const result = plan([row.namespace], { namespaces: row.wanted ? ['a'] : [] }, { otherKeys: ['istio-injection'], ...(row.label ? { label: row.label } : {}) });
    assert.deepEqual(result.actions, [row.action], row.title);
  }
  assert.deepEqual(recordedLabel('istio.io/rev=1-31-1'), { key: 'istio.io/rev', value: '1-31-1' });
  assert.equal(recordedLabel('=x'), undefined);
  assert.equal(recordedLabel(undefined), undefined);
});

test('only label, annotation and deletion changes of a namespace wake the installations', () => {
  const base = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a', resourceVersion: '1', labels: { x: '1' } } };
  assert.equal(enrolmentMayChange(base, { ...base, metadata: { ...base.metadata, resourceVersion: '2' } }), false);
  assert.equal(enrolmentMayChange(base, { ...base, metadata: { ...base.metadata, labels: { x: '2' } } }), true);
  assert.equal(enrolmentMayChange(base, { ...base, metadata: { ...base.metadata, annotations: { y: '1' } } }), true);
  assert.equal(enrolmentMayChange(base, { ...base, metadata: { ...base.metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } }), true);
});

test('a Canary upgrade points each namespace the operator enrolled at its revision (labelFor); a person\'s revision label is left alone', () => {
  const ours = (name: string, rev: string): NamespaceState => ({ name, labels: { 'istio.io/rev': rev }, annotations: { [ENROLLED_BY_ANNOTATION]: 'mesh', [ENROLLED_LABEL_ANNOTATION]: `istio.io/rev=${rev}` }, resourceVersion: '7' });
  const plan = planEnrolment({
    installation: 'mesh', controlPlaneNamespace: 'istio-system', label: { key: 'istio.io/rev', value: '1-31' },
    labelFor: (ns) => ({ key: 'istio.io/rev', value: ns === 'waiting' ? '1-30' : '1-31' }),
    selection: { namespaces: ['moved', 'waiting', 'theirs'] },
    namespaces: [ours('moved', '1-30'), ours('waiting', '1-30'), { name: 'theirs', labels: { 'istio.io/rev': '1-30' } }],
  });
  assert.deepEqual(plan.actions, [{ type: 'enrol', namespace: 'moved', resourceVersion: '7', removeLabels: [], label: { key: 'istio.io/rev', value: '1-31' } }]);
  assert.deepEqual(enrolmentPatch(plan.actions[0]!, 'mesh', { key: 'istio.io/rev', value: '1-31' }).metadata, {
    resourceVersion: '7', labels: { 'istio.io/rev': '1-31' }, annotations: { [ENROLLED_BY_ANNOTATION]: 'mesh', [ENROLLED_LABEL_ANNOTATION]: 'istio.io/rev=1-31' },
  });
  assert.deepEqual(plan.notEnrolled.map((n) => [n.namespace, n.reason]), [['theirs', 'LabelSetByUser']]);
  // Moving back (a rollback): the same namespace relabelled to the old revision, the patch naming it.
  const back = planEnrolment({
    installation: 'mesh', controlPlaneNamespace: 'istio-system', label: { key: 'istio.io/rev', value: '1-31' }, labelFor: () => ({ key: 'istio.io/rev', value: '1-30' }),
    selection: { namespaces: ['moved'] }, namespaces: [ours('moved', '1-31')],
  });
  assert.deepEqual(back.actions, [{ type: 'enrol', namespace: 'moved', resourceVersion: '7', removeLabels: [], label: { key: 'istio.io/rev', value: '1-30' } }]);
  assert.deepEqual((enrolmentPatch(back.actions[0]!, 'mesh', { key: 'istio.io/rev', value: '1-31' }).metadata as { labels: unknown }).labels, { 'istio.io/rev': '1-30' });
});

test('enrolNamespaces: a steady outcome is reused while the namespace cache and the selection are unchanged; any change, or a write, plans again', async () => {
  let changes = 0;
  let listed = 0;
  const patched: string[] = [];
  const namespace = (name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels, annotations, resourceVersion: '1' } });
  let items = [namespace('shop', { team: 'shop' }, { [ENROLLED_BY_ANNOTATION]: 'memo-mesh', [ENROLLED_LABEL_ANNOTATION]: 'istio-injection=enabled' }), namespace('other')];
  items[0]!.metadata.labels['istio-injection'] = 'enabled';
  const informer = { changes: () => changes, list: () => (listed++, items), get: (name: string) => items.find((n) => n.metadata.name === name) } as unknown as Informer;
  const context = { namespaces: informer, client: { patch: async (_type: unknown, name: string) => void patched.push(name) } } as unknown as PassContext;
  const scopeOf = (selector: Record<string, string>) => newPassScope({
    apiVersion: 'meshwright.dev/v1alpha1', kind: 'MeshInstallation', metadata: { name: 'memo-mesh', uid: 'u-1', generation: 1 },
    spec: { mesh: 'istio', version: '1.31.1', namespace: 'istio-system', injection: { namespaceSelector: { matchLabels: selector } } },
  } as unknown as InstallationObject, pino({ level: 'silent' }), { now: () => 0 } as never);
  const first = scopeOf({ team: 'shop' });
  const target = resolveTarget(first, { distributions: new Map([['istio', istioDistribution]]) } as never);

  const outcome = await enrolNamespaces(first, context, target);
  assert.deepEqual(outcome?.enrolled, ['shop']);
  assert.equal(listed, 1);
  assert.deepEqual(await enrolNamespaces(scopeOf({ team: 'shop' }), context, target), outcome, 'the same outcome');
  assert.equal(listed, 1, 'not planned again');

  changes++; // a namespace changed: planned again
  items = [...items, namespace('cart', { team: 'shop' })];
  const widened = await enrolNamespaces(scopeOf({ team: 'shop' }), context, target);
  assert.equal(listed, 2);
  assert.deepEqual(patched, ['cart'], 'the new namespace was enrolled');
  assert.deepEqual(widened?.enrolled, ['cart', 'shop']);
  await enrolNamespaces(scopeOf({ team: 'shop' }), context, target);
  assert.equal(listed, 3, 'a pass that wrote is not kept: the next one plans (the write\'s event may not have come yet)');
  await enrolNamespaces(scopeOf({ team: 'other' }), context, target);
  assert.equal(listed, 4, 'another selection plans again');
});
