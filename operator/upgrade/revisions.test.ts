/**
 * planRevisions (revisions.ts): a previous revision stays rendered while a namespace or a running
 * pod uses it, is found again from status.revisions after the served spec moved on, and is dropped
 * for good once nothing uses it; a revision of the same name (an in-place change) is never kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRevisions, type RevisionUse } from './revisions.ts';

const NEW = { name: '1-31-1', version: '1.31.1' };
const OLD = { name: '1-30-4', version: '1.30.4' };
const unused: RevisionUse = { namespaces: [], runningPods: 0 };
const uses = (table: Record<string, RevisionUse>) => (name: string) => table[name] ?? unused;

test('the revision last served, renamed, stays while pods or namespaces use it, with status.revisions saying so', () => {
  for (const [name, use] of [['running pods', { namespaces: [], runningPods: 3 }], ['a namespace labelled for it', { namespaces: ['legacy'], runningPods: 0 }]] as const) {
    const d = planRevisions({ current: NEW, served: OLD, use: uses({ [OLD.name]: use, [NEW.name]: { namespaces: [], runningPods: 1 } }) });
    assert.deepEqual(d.keep, [OLD], name);
    assert.deepEqual(d.status, [{ ...NEW, state: 'Active', inUse: true }, { ...OLD, state: 'Retiring', inUse: true }], name);
  }
});

test('remembered in status.revisions once the served spec moved on; dropped when nothing uses it', () => {
  const recorded = [{ ...NEW, state: 'Active' as const, inUse: true }, { ...OLD, state: 'Retiring' as const, inUse: true }];
  assert.deepEqual(planRevisions({ current: NEW, recorded, served: NEW, use: uses({ [OLD.name]: { namespaces: [], runningPods: 1 } }) }).keep, [OLD]);
  assert.deepEqual(planRevisions({ current: NEW, recorded, served: NEW, use: uses({}) }), { keep: [] });
});

test('nothing kept: a first install, an in-place change (same revision name), an unused previous revision', () => {
  assert.deepEqual(planRevisions({ current: NEW, use: uses({}) }), { keep: [] });
  assert.deepEqual(planRevisions({ current: { name: 'default', version: '1.31.1' }, served: { name: 'default', version: '1.30.4' }, use: uses({ default: { namespaces: ['a'], runningPods: 5 } }) }), { keep: [] });
  assert.deepEqual(planRevisions({ current: NEW, served: OLD, use: uses({}) }), { keep: [] });
});

test('several previous revisions (a second bump during the first): each kept while used, in name order', () => {
  const older = { name: '1-29-4', version: '1.29.4' };
  const recorded = [{ ...OLD, state: 'Active' as const, inUse: true }, { ...older, state: 'Retiring' as const, inUse: true }];
  const d = planRevisions({ current: NEW, recorded, served: OLD, use: uses({ [OLD.name]: { namespaces: [], runningPods: 2 }, [older.name]: { namespaces: [], runningPods: 1 } }) });
  assert.deepEqual(d.keep, [older, OLD]);
});
