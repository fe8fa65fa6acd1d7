/**
 * Watches the user's Secrets that installations name in `spec.certificateAuthority.secretRef`, each
 * by name, so that a change to one — cert-manager renewing the issuer, a person breaking or mending
 * it — reaches status at once instead of at the next hourly CA check.
 *
 * Why a watch of its own: the operator's caches select its own objects by label, and a user's
 * Secret is never labelled (the operator never writes it). One field-selected informer per
 * referenced Secret, shared by every installation naming it and stopped when none does; its
 * events only enqueue those installations (the pass reads the Secret itself). The cache keeps
 * metadata only: the operator holds no copy of the user's key between passes.
 */
import type { Clock } from '../runtime/clock.ts';
import { Informer } from '../runtime/informer.ts';
import type { KubeClient, KubeObject } from '../runtime/kube.ts';

/** Settings of {@link ReferencedSecrets}. */
export interface ReferencedSecretsOptions {
  client: KubeClient;
  /** The MeshInstallations; their events say which Secrets are referenced. */
  installations: Informer;
  /** Enqueues an installation's key. */
  enqueue(installation: string): void;
  clock?: Clock;
  onError?: (error: unknown, retryInMs: number) => void;
}

/** The Secret an installation's External CA names, as `namespace/name`; undefined for any other CA. */
export function referencedSecret(installation: KubeObject): { namespace: string; name: string } | undefined {
  const ca = (installation.spec as { certificateAuthority?: { type?: string; secretRef?: { namespace?: string; name?: string } } } | undefined)?.certificateAuthority;
  if (ca?.type !== 'External' || !ca.secretRef?.name || !ca.secretRef.namespace) return undefined;
  return { namespace: ca.secretRef.namespace, name: ca.secretRef.name };
}

/** Only what tells a change: the Secret's identity and version, never its data. */
const metadataOnly = (object: KubeObject): KubeObject => ({
  apiVersion: object.apiVersion, kind: object.kind,
  metadata: { name: object.metadata.name, namespace: object.metadata.namespace, uid: object.metadata.uid, resourceVersion: object.metadata.resourceVersion },
});

/** One watch per referenced Secret; see the module comment. */
export class ReferencedSecrets {
  private readonly watches = new Map<string, { informer: Informer; installations: Set<string> }>();
  /** The Secret each installation references, as a key of {@link watches}. */
  private readonly references = new Map<string, string>();
  private stopped = false;

  constructor(private readonly options: ReferencedSecretsOptions) {
    options.installations.on((type, object) => this.track(object.metadata.name, type === 'delete' ? undefined : referencedSecret(object)));
  }

  /** Secrets watched now, as `namespace/name` (for tests and readiness). */
  watched(): string[] {
    return [...this.watches.keys()].sort();
  }

  /** Stops every watch; installation events after this start none. */
  async stop(): Promise<void> {
    this.stopped = true;
    const informers = [...this.watches.values()].map((watch) => watch.informer);
    this.watches.clear();
    this.references.clear();
    await Promise.all(informers.map((informer) => informer.stop()));
  }

  private track(installation: string, secret: { namespace: string; name: string } | undefined): void {
    if (this.stopped) return;
    const key = secret && `${secret.namespace}/${secret.name}`;
    const previous = this.references.get(installation);
    if (previous === key) return;
    if (previous) this.release(installation, previous);
    if (!secret || !key) {
      this.references.delete(installation);
      return;
    }
    this.references.set(installation, key);
    let watch = this.watches.get(key);
    if (!watch) {
      const informer = new Informer({
        client: this.options.client, type: { apiVersion: 'v1', kind: 'Secret' }, namespace: secret.namespace, fieldSelector: `metadata.name=${secret.name}`,
        clock: this.options.clock, onError: this.options.onError, transform: metadataOnly,
      });
      const created = { informer, installations: new Set<string>() };
      informer.on(() => {
        for (const name of created.installations) this.options.enqueue(name);
      });
      // Never awaited: a Secret that cannot be watched (RBAC, say) must not hold anything up; the
      // pass still reads it, and the hourly check still runs. Stopping rejects the wait: expected.
      informer.start().catch(() => undefined);
      this.watches.set(key, watch = created);
    }
    watch.installations.add(installation);
  }

  private release(installation: string, key: string): void {
    const watch = this.watches.get(key);
    if (!watch) return;
    watch.installations.delete(installation);
    if (watch.installations.size > 0) return;
    this.watches.delete(key);
    void watch.informer.stop();
  }
}
