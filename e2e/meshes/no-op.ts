/**
 * No-op on real specs: each spec (an example, or a spec behind a golden render) is applied to the
 * real API server with the operator running as its own ServiceAccount, reconciled to Ready, and
 * then a pass is asserted to send zero writes (the API server's audit log). Then it is deleted, so
 * the next spec of the same mesh starts from a clean cluster: specs of one mesh share cluster-scoped
 * objects, so they run one after the other, in the same file as that mesh's example test.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import type { MeshInstallationSpec } from '../../operator/api/spec.ts';
import { KubeClient, type KubeObject } from '../../operator/runtime/kube.ts';
import { auditEvents, writeVerbs } from '../support/audit.ts';
import { removeInstallationAndWorkloads } from '../support/installation-removal.ts';
import { eventually, testKubeConfig } from '../support/kube.ts';
import { startOperatorWithOwnAccount, type OperatorProcess } from '../support/operator-account.ts';

/** One spec to check. */
export interface NoOpCase {
  /** What the spec is (an example file, a golden's name). */
  title: string;
  spec: Partial<MeshInstallationSpec> & Pick<MeshInstallationSpec, 'mesh' | 'version' | 'namespace'>;
  /** Objects the spec needs before it can become Ready (e.g. a user's CA Secret). */
  prepare?: (admin: KubeClient) => Promise<KubeObject[]>;
}

type Installation = KubeObject & { status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string; reason: string; message: string }> } };

const miType = { apiVersion: API_VERSION, kind: KIND };

/** The spec of an example file under examples/. */
export function exampleSpec(file: string): NoOpCase['spec'] {
  return (parse(readFileSync(join(import.meta.dirname, '..', '..', 'examples', file), 'utf8')) as { spec: NoOpCase['spec'] }).spec;
}

/** Registers a describe block that checks every case in turn with one operator process. */
export function describeNoOpPasses(title: string, cases: readonly NoOpCase[]): void {
  const run = randomBytes(3).toString('hex');
  const kc = testKubeConfig();
  const admin = new KubeClient(kc, 'meshwright-e2e-admin');
  const selector = `meshwright.dev/e2e-no-op=${run}`;
  let operator: OperatorProcess;
  let operatorUser = '';
  let cleanupAccount: () => Promise<void> = async () => undefined;
  const leftovers: KubeObject[] = [];

  describe(title, () => {
    before(async () => {
      ({ operator, username: operatorUser, cleanup: cleanupAccount } = await startOperatorWithOwnAccount(admin, kc, run, () => [
        `--installation-selector=${selector}`, '--leader-elect=false', '--metrics-address=127.0.0.1:0', '--log-level=info',
      ]));
    });

    after(async () => {
      await operator?.stop();
      for (const [i] of cases.entries()) {
        await admin.patch(miType, `noop-${run}-${i}`, undefined, { metadata: { finalizers: null } }, 'merge').catch(() => undefined);
        await admin.delete(miType, `noop-${run}-${i}`).catch(() => undefined);
      }
      for (const object of leftovers) await admin.delete(object, object.metadata.name, object.metadata.namespace).catch(() => undefined);
      await cleanupAccount();
      await admin.close();
    });

    for (const [i, noOpCase] of cases.entries()) {
      test(`${noOpCase.title}: Ready, then a pass sends no write`, async (t) => {
        const name = `noop-${run}-${i}`;
        if (noOpCase.prepare) leftovers.push(...await noOpCase.prepare(admin));
        await admin.create({ apiVersion: API_VERSION, kind: KIND, metadata: { name, labels: { 'meshwright.dev/e2e-no-op': run } }, spec: noOpCase.spec });
        // Deleted whatever the outcome: the next spec of this mesh renders the same objects. Its
        // workloads' ReplicaSets and pods must be gone too, or the next install's Deployments of the
        // same names would adopt them before the garbage collector removes them.
        t.after(() => removeInstallationAndWorkloads(admin, name, noOpCase.spec.namespace));
        await eventually(`${name} Ready`, async () => {
          const mi = await admin.get<Installation>(miType, name);
          const ready = mi.status?.conditions?.find((c) => c.type === 'Ready');
          return ready?.status === 'True' && mi.status?.observedGeneration === mi.metadata.generation ? mi : undefined;
        }, 120_000, 250).catch(async (error) => {
          const mi = await admin.get<Installation>(miType, name);
          throw new Error(`${(error as Error).message}\nconditions: ${JSON.stringify(mi.status?.conditions)}\noperator log: ${operator.logFile}`);
        });

        // Events are sent after the pass that caused them, asynchronously: wait for those the install
        // makes (Ready; a new CA unless it is the user's), so the pass below is alone.
        const expectedEvents = noOpCase.spec.certificateAuthority?.type === 'External' ? ['Ready'] : ['Ready', 'CertificateAuthorityCreated'];
        await eventually(`the ${expectedEvents.join(' and ')} Events of ${name}`, async () => {
          const events = await admin.list<KubeObject & { reason?: string; regarding?: { name?: string } }>({ apiVersion: 'events.k8s.io/v1', kind: 'Event' }, { namespace: 'default' });
          const reasons = new Set(events.items.filter((e) => e.regarding?.name === name).map((e) => e.reason));
          return expectedEvents.every((reason) => reasons.has(reason));
        }, 30_000, 50);

        // A metadata-only change enqueues a pass that has nothing to do.
        const since = new Date();
        const passes = await operator.reconciles();
        await admin.patch(miType, name, undefined, { metadata: { annotations: { 'meshwright.dev/e2e-nudge': String(Date.now()) } } }, 'merge');
        await eventually('the nudged pass to end', async () => (await operator.reconciles()) > passes, 15_000, 50);
        const writes = auditEvents(since, (e) => e.user?.username === operatorUser && writeVerbs.has(e.verb));
        assert.deepEqual(writes.map((e) => `${e.verb} ${e.requestURI}`), [], 'a pass over a Ready installation writes nothing');
      });
    }
  });
}
