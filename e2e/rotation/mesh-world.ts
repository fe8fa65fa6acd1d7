/**
 * The real meshes' injection world (e2e/meshes/injection.ts) with an operator process that a test
 * can SIGKILL and start again (the kill test's mechanism, issue #17 point 5): the same
 * ServiceAccount, flags and webhook port each time, and no leader election, so a new process takes
 * over at once instead of waiting for a dead one's lease to expire (the operator's namespace still
 * given: its webhook CA is kept there, so every process serves the webhook with the same CA).
 */
import type { ChildProcess } from 'node:child_process';
import { builtInDistributions } from '../../operator/distributions/built-in.ts';
import { KubeClient } from '../../operator/runtime/kube.ts';
import { freePort } from '../cluster/local-cluster.ts';
import { MeshInjectionWorld } from '../meshes/injection.ts';
import { installMeshInstallationCrd } from '../support/kube.ts';
import { operatorServiceAccountKubeconfig, startOperatorProcess } from '../support/operator-account.ts';
import { sigkill } from './support.ts';

export class RestartableMeshWorld extends MeshInjectionWorld {
  /** Creates and removes the operator's account (the world's own client is closed by its tearDown). */
  private readonly accountAdmin = new KubeClient(this.kc, 'meshwright-e2e-admin');
  private account?: { kubeconfig: string; namespace: string; cleanup: () => Promise<void> };
  private port = 0;
  /** The log file of every operator process started, in order. */
  readonly logs: string[] = [];

  override async start(): Promise<void> {
    await installMeshInstallationCrd(this.accountAdmin);
    this.account = await operatorServiceAccountKubeconfig(this.accountAdmin, this.kc, this.run, builtInDistributions);
    this.port = await freePort();
    this.startProcess();
  }

  /** Starts a new operator process; returns its log file. */
  startProcess(): string {
    this.operator = startOperatorProcess(this.account!.kubeconfig, [
      `--installation-selector=meshwright.dev/e2e-injection=${this.run}`, '--leader-elect=false', `--leader-election-namespace=${this.account!.namespace}`, '--metrics-address=127.0.0.1:0', '--log-level=info',
      `--webhook-port=${this.port}`, `--webhook-url=https://127.0.0.1:${this.port}`,
    ]);
    this.logs.push(this.operator.logFile);
    return this.operator.logFile;
  }

  /** SIGKILLs the running operator process and waits until it is gone. */
  kill(): Promise<void> {
    return sigkill(this.operator!.process as ChildProcess);
  }

  override async tearDown(): Promise<void> {
    await super.tearDown();
    await this.account?.cleanup().catch(() => undefined);
    await this.accountAdmin.close();
  }
}
