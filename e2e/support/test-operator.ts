/**
 * The operator in the test process, assembled as `meshwright run` assembles it minus HTTP and leader
 * election: its JSON log goes through the real logger into memory (so a test can read every line it
 * wrote), its Events go to the cluster through the real recorder, and the passes it finished are
 * counted per installation, across restarts, so tests wait on them instead of sleeping.
 */
import { randomBytes } from 'node:crypto';
import type { MeshDistribution } from '../../operator/distributions/distribution.ts';
import { Operator } from '../../operator/operator.ts';
import type { ReconcileError } from '../../operator/runtime/errors.ts';
import { EventRecorder } from '../../operator/runtime/events.ts';
import { KubeClient } from '../../operator/runtime/kube.ts';
import { createLogger } from '../../operator/runtime/logger.ts';
import { eventually, installMeshInstallationCrd, testKubeConfig } from './kube.ts';

/** An operator a test starts, stops and starts again. */
export interface TestOperator {
  /** The running operator (replaced by each start; undefined once stopped). */
  readonly current: Operator | undefined;
  /** `reportingInstance` of its Events. */
  readonly identity: string;
  /** Every line the operator logged since this harness was made, across restarts. */
  log(): string;
  /** Passes over `name` that ended, across restarts. */
  passes(name: string): number;
  /** The failure the last pass over `name` ended with (undefined: it succeeded, or none ran). */
  lastFailure(name: string): ReconcileError | undefined;
  /** Resolves once a pass over `name` beyond the first `count` has ended. */
  passAfter(name: string, count: number, timeoutMs?: number): Promise<void>;
  start(): Promise<void>;
  /** Stops reconciling and watching, and waits until every Event recorded so far is written. */
  stop(): Promise<void>;
}

/** Settings of {@link testOperator}. */
export interface TestOperatorOptions {
  client: KubeClient;
  distributions: readonly MeshDistribution[];
  /** Label selector of the installations this operator manages (keeps parallel tests apart). */
  installationSelector: string;
}

/** A {@link TestOperator}, not started. */
export function testOperator(options: TestOperatorOptions): TestOperator {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', name: 'meshwright', destination: { write: (line: string) => void lines.push(line) } });
  const identity = `e2e-${randomBytes(3).toString('hex')}`;
  const events = new EventRecorder({ client: options.client, identity, log });
  const passes = new Map<string, number>();
  const failures = new Map<string, ReconcileError | undefined>();
  let current: Operator | undefined;
  return {
    get current() {
      return current;
    },
    identity,
    log: () => lines.join(''),
    passes: (name) => passes.get(name) ?? 0,
    lastFailure: (name) => failures.get(name),
    async passAfter(name, count, timeoutMs = 30_000) {
      try {
        await eventually(`a pass over ${name} beyond ${count}`, async () => (passes.get(name) ?? 0) > count, timeoutMs, 20);
      } catch (error) {
        // What the operator was doing meanwhile is what tells why: its last log lines go with the failure.
        throw new Error(`${error instanceof Error ? error.message : String(error)}\noperator log (last 40 lines):\n${lines.slice(-40).join('')}`);
      }
    },
    async start() {
      current = new Operator({
        client: options.client, distributions: options.distributions, log, installationSelector: options.installationSelector,
        hooks: {
          onPassCompleted: (name, failure) => {
            failures.set(name, failure);
            passes.set(name, (passes.get(name) ?? 0) + 1);
          },
          onEvent: (installation, type, reason, note) => void events.record({ regarding: installation, type, reason, action: 'Reconcile', note }),
        },
      });
      await current.start();
    },
    async stop() {
      const stopping = current;
      current = undefined;
      await stopping?.stop();
      await events.drain();
    },
  };
}

/** What an e2e file with an operator of its own starts from: see {@link operatorScenario}. */
export interface OperatorScenario {
  /** Unique per file run: name objects after it. */
  run: string;
  /** The label that puts an installation under this operator. */
  label: Record<string, string>;
  /** The operator's client (its user agent is the operator's). */
  client: KubeClient;
  /** Everyone else's writes. */
  admin: KubeClient;
  operator: TestOperator;
  /** Installs the CRD and starts the operator (for `before`). */
  start(): Promise<void>;
  /** Stops the operator (if still running) and closes both clients (for `after`, once cleanup is done). */
  close(): Promise<void>;
}

/** An operator over `distributions`, managing only the installations labelled {@link OperatorScenario.label}. */
export function operatorScenario(distributions: readonly MeshDistribution[]): OperatorScenario {
  const kc = testKubeConfig();
  const run = randomBytes(3).toString('hex');
  const client = new KubeClient(kc);
  const admin = new KubeClient(kc, 'meshwright-e2e-admin');
  const operator = testOperator({ client, distributions, installationSelector: `meshwright.dev/test-run=${run}` });
  return {
    run, label: { 'meshwright.dev/test-run': run }, client, admin, operator,
    async start() {
      await installMeshInstallationCrd(admin);
      await operator.start();
    },
    async close() {
      await operator.stop();
      await client.close();
      await admin.close();
    },
  };
}
