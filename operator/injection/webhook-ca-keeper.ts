/**
 * The webhook CA against the cluster (the thin executor of webhook-ca.ts): one Secret in the
 * operator's own namespace, watched by every replica, which all serve its certificate.
 *
 * - Created once: a replica that finds no Secret creates one (optimistic create; whoever loses the
 *   race reads the winner's from its cache). A CA is never made while a Secret exists.
 * - Renewed by whichever replica sees a step due first: each write is an update guarded by the
 *   cached resourceVersion, so two replicas can never both take a step; the loser sees the
 *   winner's state in its next watch event and plans again from it.
 * - "Published" (renewal step 2) is judged from the caches too: every mutating webhook that
 *   points at this operator's endpoint carries the whole bundle ({@link WebhookCaKeeperOptions.published}).
 *
 * Private keys stay in the Secret and in memory: logs name steps, subjects and expiry dates only.
 */
import type { Logger } from 'pino';
import { systemClock, type Clock, type Timer } from '../runtime/clock.ts';
import { Informer } from '../runtime/informer.ts';
import { isConflict, type KubeClient, type KubeObject } from '../runtime/kube.ts';
import { caBundleOf, createWebhookCa, decodeWebhookCa, encodeWebhookCa, planWebhookCa, takeWebhookCaStep, type WebhookCaSettings, type WebhookCaState } from './webhook-ca.ts';

const secretType = { apiVersion: 'v1', kind: 'Secret' };

/** Labels of the Secret; a Secret of that name without them was not created by meshwright and is never written. */
const SECRET_LABELS = { 'app.kubernetes.io/managed-by': 'meshwright', 'app.kubernetes.io/component': 'webhook-ca' } as const;

/** Whether the operator created `secret` (it carries {@link SECRET_LABELS}). */
function isOurs(secret: KubeObject): boolean {
  return Object.entries(SECRET_LABELS).every(([key, value]) => secret.metadata.labels?.[key] === value);
}

/** Settings of {@link WebhookCaKeeper}. */
export interface WebhookCaKeeperOptions {
  client: KubeClient;
  /** The operator's own namespace (the leader-election namespace). */
  namespace: string;
  /** The Secret's name. */
  name: string;
  settings: WebhookCaSettings;
  log: Logger;
  clock?: Clock;
  /** Whether every webhook configuration pointing at this operator carries all of `bundlePem` (read from caches). */
  published(bundlePem: string): boolean;
  /** Counts each step taken by this replica (for metrics). */
  onStep?(kind: string): void;
}

/** Keeps the webhook CA Secret and tells listeners when its state changes. */
export class WebhookCaKeeper {
  readonly secrets: Informer;
  private readonly clock: Clock;
  private readonly listeners: Array<(state: WebhookCaState) => void> = [];
  private decoded?: { resourceVersion: string; state: WebhookCaState };
  /** The last state read from the Secret: what a deleted or mangled Secret is restored from. */
  private lastKnown?: WebhookCaState;
  private unreadable?: string;
  private published?: { bundle: string; since: number };
  private timer?: Timer;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(private readonly options: WebhookCaKeeperOptions) {
    this.clock = options.clock ?? systemClock;
    this.secrets = new Informer({
      client: options.client, type: secretType, namespace: options.namespace, fieldSelector: `metadata.name=${options.name}`, clock: options.clock,
      onError: (error, retryInMs) => options.log.warn({ err: error instanceof Error ? error.message : String(error), retryInMs, secret: `${options.namespace}/${options.name}` }, 'watching the webhook CA Secret failed; retrying'),
    });
    this.secrets.on(() => {
      const state = this.state();
      if (state) for (const listener of this.listeners) listener(state);
      this.check();
    });
  }

  /** Calls `listener` with every new state (a new serving certificate, a new bundle). */
  onChange(listener: (state: WebhookCaState) => void): void {
    this.listeners.push(listener);
  }

  /** The state as cached (undefined before the Secret exists, or if it cannot be read). */
  state(): WebhookCaState | undefined {
    const secret = this.secrets.get(this.options.name, this.options.namespace);
    if (!secret || !isOurs(secret)) return undefined;
    const resourceVersion = secret.metadata.resourceVersion ?? '';
    if (this.decoded?.resourceVersion === resourceVersion) return this.decoded.state;
    try {
      const state = decodeWebhookCa(secret.data as Record<string, string> | undefined, secret.metadata.annotations, `${this.options.namespace}/${this.options.name}`);
      this.decoded = { resourceVersion, state };
      this.lastKnown = state;
      return state;
    } catch (error) {
      if (this.unreadable !== resourceVersion) this.options.log.error({ err: (error as Error).message }, 'the webhook CA Secret cannot be used; it is restored from the last state this replica read');
      this.unreadable = resourceVersion;
      return undefined;
    }
  }

  /**
   * The state to serve and publish: the Secret's, or while it is gone or unreadable, the last one
   * this replica read (so that a deleted Secret does not take the webhook configurations with it).
   */
  current(): WebhookCaState | undefined {
    return this.state() ?? this.lastKnown;
  }

  /** The bundle webhook configurations must carry (undefined until a state was read). */
  caBundlePem(): string | undefined {
    const state = this.current();
    return state ? caBundleOf(state) : undefined;
  }

  /** Watches the Secret, creates it if there is none, and resolves once a state is readable. */
  async start(): Promise<WebhookCaState> {
    this.stopped = false;
    await this.secrets.start();
    const existing = this.secrets.get(this.options.name, this.options.namespace);
    if (existing && !isOurs(existing)) throw new Error(this.foreign());
    let retryMs = 500;
    let lastFailure: string | undefined;
    for (;;) {
      const state = this.state();
      if (state) {
        this.check();
        return state;
      }
      if (this.stopped) throw new Error('the webhook CA keeper stopped before the Secret could be read');
      if (!this.secrets.get(this.options.name, this.options.namespace)) {
        try {
          await this.create();
        } catch (error) {
          // Its namespace missing, RBAC: said once per distinct reason, retried with backoff; /readyz says the webhook is not serving.
          const message = error instanceof Error ? error.message : String(error);
          if (message !== lastFailure) this.options.log.error({ err: message, secret: `${this.options.namespace}/${this.options.name}`, retryInMs: retryMs }, 'cannot create the webhook CA Secret; retrying');
          lastFailure = message;
          await new Promise<void>((resolve) => this.clock.setTimer(retryMs, resolve));
          retryMs = Math.min(retryMs * 2, 30_000);
          continue;
        }
      }
      // Created by us or by another replica: the watch brings it.
      await new Promise<void>((resolve) => this.clock.setTimer(100, resolve));
    }
  }

  /** Plans again now: call when a webhook configuration changed (a bundle may have been published). */
  check(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.step().catch((error: unknown) => {
      this.options.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'webhook CA step failed; retrying');
      this.schedule(this.clock.now() + 1_000);
    }).finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.check();
      }
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
    await this.secrets.stop();
  }

  private schedule(at: number): void {
    this.timer?.cancel();
    this.timer = this.clock.setTimer(Math.max(0, at - this.clock.now()), () => this.check());
  }

  /** Creates the Secret: from `state` (restoring what was deleted), or with a new CA. */
  private async create(state?: WebhookCaState): Promise<void> {
    const content = state ?? await createWebhookCa(this.options.settings, this.clock.now());
    try {
      await this.options.client.create(this.secretOf(content));
      this.options.log.info({ secret: `${this.options.namespace}/${this.options.name}`, restored: state !== undefined }, state ? 'the webhook CA Secret was deleted: restored it from the last state read' : 'created the webhook serving CA');
      this.options.onStep?.(state ? 'restore' : 'create');
    } catch (error) {
      // Another replica was first: its Secret arrives through the watch.
      if (!isConflict(error)) throw error;
    }
  }

  private foreign(): string {
    const where = `${this.options.namespace}/${this.options.name}`;
    return `Secret ${where} exists but was not created by meshwright (it lacks the labels ${Object.entries(SECRET_LABELS).map(([k, v]) => `${k}=${v}`).join(', ')}); the operator never writes a Secret it did not create: delete it, or set MESHWRIGHT_WEBHOOK_SECRET to another name`;
  }

  private secretOf(state: WebhookCaState, resourceVersion?: string): KubeObject {
    const { data, annotations } = encodeWebhookCa(state);
    return {
      apiVersion: 'v1', kind: 'Secret', type: 'Opaque', data,
      metadata: {
        name: this.options.name, namespace: this.options.namespace, annotations,
        labels: { ...SECRET_LABELS },
        ...(resourceVersion ? { resourceVersion } : {}),
      },
    };
  }

  /** One look: plan from the cached state, take the step (guarded by resourceVersion), or wait for its time. */
  private async step(): Promise<void> {
    const secret = this.secrets.get(this.options.name, this.options.namespace);
    const state = this.state();
    // Ours, so kept: a deleted Secret is created again, a mangled one written back, from the last state read.
    if (!secret) {
      if (this.secrets.hasSynced()) await this.create(this.lastKnown);
      return;
    }
    if (!isOurs(secret)) {
      // Someone replaced ours with a Secret of their own: never written; we serve what we had.
      this.options.log.error({ secret: `${this.options.namespace}/${this.options.name}` }, this.foreign());
      return;
    }
    if (!state) {
      const restored = this.lastKnown ?? await createWebhookCa(this.options.settings, this.clock.now());
      await this.options.client.replace(this.secretOf(restored, secret.metadata.resourceVersion)).catch((error: unknown) => {
        if (!isConflict(error)) throw error;
      });
      this.options.onStep?.('restore');
      return;
    }
    const now = this.clock.now();
    const bundle = caBundleOf(state);
    if (this.options.published(bundle)) {
      if (this.published?.bundle !== bundle) this.published = { bundle, since: now };
    } else {
      this.published = undefined;
    }
    const plan = await planWebhookCa(state, this.options.settings, { now, publishedSince: this.published?.since });
    if (plan.step.kind === 'none') {
      this.schedule(plan.nextCheckAt);
      return;
    }
    const next = await takeWebhookCaStep(state, plan.step, this.options.settings, now);
    try {
      await this.options.client.replace(this.secretOf(next, secret.metadata.resourceVersion));
    } catch (error) {
      // Someone (another replica) wrote first: its state arrives through the watch, and is planned from.
      if (isConflict(error)) return;
      throw error;
    }
    this.options.log.info({ step: plan.step.kind, why: plan.step.why, renewals: next.renewals }, 'webhook CA step taken');
    this.options.onStep?.(plan.step.kind);
  }
}
