/**
 * Watches the user's Secrets that installations name in `spec.certificateAuthority.secretRef`, each
 * by name, so that a change to one — cert-manager renewing the issuer, a person breaking or mending
 * it — reaches status at once instead of at the next hourly CA check.
 *
 * Why a watch of its own: the operator's caches select its own objects by label, and a user's
 * Secret is never labelled (the operator never writes it). One field-selected informer per
 * referenced Secret, shared by every installation naming it and stopped when none does; its
 * events only enqueue those installations (the pass reads the Secret itself). The cache keeps
 * metadata and, of the data, only the public certificate entries a mesh reads its published trust
 * anchors from when it reads the Secret in place (Istio's `cacerts`: `root-cert.pem`), so that the
 * injection webhook and the data-plane status find them (distributions/published-trust-anchors.ts):
 * never a private key — the operator holds no copy of the user's key between passes.
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
  /**
   * The keys of `secret` the installation's mesh reads its published trust anchors from (see
   * {@link trustAnchorKeysOfUserSecret}); without it, or when empty, only metadata is kept.
   */
  trustAnchorKeys?(installation: KubeObject, secret: { namespace: string; name: string }): readonly string[];
  clock?: Clock;
  onError?: (error: unknown, retryInMs: number) => void;
}

/** The Secret an installation's External CA names, as `namespace/name`; undefined for any other CA. */
export function referencedSecret(installation: KubeObject): { namespace: string; name: string } | undefined {
  const ca = (installation.spec as { certificateAuthority?: { type?: string; secretRef?: { namespace?: string; name?: string } } } | undefined)?.certificateAuthority;
  if (ca?.type !== 'External' || !ca.secretRef?.name || !ca.secretRef.namespace) return undefined;
  return { namespace: ca.secretRef.namespace, name: ca.secretRef.name };
}

/** Whether a PEM text holds certificates and nothing else (no key block of any kind). */
function certificatesOnly(pem: string): boolean {
  const labels = [...pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((match) => match[1]);
  return labels.length > 0 && labels.every((label) => label === 'CERTIFICATE') && !/PRIVATE|KEY-----/.test(pem);
}

/**
 * What the cache keeps of a user's Secret: its identity and version (what tells a change), and of
 * its data only the entries under `keys` that hold certificates and nothing else: an entry with a
 * key block, or any other entry (`ca-key.pem`, `tls.key`), is dropped before caching.
 */
export function publicTrustAnchorView(object: KubeObject, keys: Iterable<string>): KubeObject {
  const data = (object as { data?: Record<string, string> }).data ?? {};
  const kept: Record<string, string> = {};
  for (const key of keys) {
    const value = data[key];
    if (typeof value === 'string' && certificatesOnly(Buffer.from(value, 'base64').toString('utf8'))) kept[key] = value;
  }
  return {
    apiVersion: object.apiVersion, kind: object.kind,
    metadata: { name: object.metadata.name, namespace: object.metadata.namespace, uid: object.metadata.uid, resourceVersion: object.metadata.resourceVersion },
    ...(Object.keys(kept).length > 0 ? { data: kept } : {}),
  };
}

/** One watch per referenced Secret; see the module comment. */
export class ReferencedSecrets {
  private readonly watches = new Map<string, { informer: Informer; installations: Set<string>; keys: Set<string> }>();
  /** The Secret each installation references, as a key of {@link watches}. */
  private readonly references = new Map<string, string>();
  private stopped = false;

  constructor(private readonly options: ReferencedSecretsOptions) {
    options.installations.on((type, object) => this.track(object, type === 'delete' ? undefined : referencedSecret(object)));
  }

  /** Secrets watched now, as `namespace/name` (for tests and readiness). */
  watched(): string[] {
    return [...this.watches.keys()].sort();
  }

  /** The user's Secret as cached (metadata and public trust-anchor entries only); undefined when not watched or not seen yet. */
  get(namespace: string, name: string): KubeObject | undefined {
    return this.watches.get(`${namespace}/${name}`)?.informer.get(name, namespace);
  }

  /** Stops every watch; installation events after this start none. */
  async stop(): Promise<void> {
    this.stopped = true;
    const informers = [...this.watches.values()].map((watch) => watch.informer);
    this.watches.clear();
    this.references.clear();
    await Promise.all(informers.map((informer) => informer.stop()));
  }

  private track(object: KubeObject, secret: { namespace: string; name: string } | undefined): void {
    if (this.stopped) return;
    const installation = object.metadata.name;
    const key = secret && `${secret.namespace}/${secret.name}`;
    const keys = secret ? this.options.trustAnchorKeys?.(object, secret) ?? [] : [];
    const previous = this.references.get(installation);
    let watch = key ? this.watches.get(key) : undefined;
    const keptAlready = !watch || keys.every((k) => watch!.keys.has(k));
    if (previous === key && keptAlready) return;
    if (previous && previous !== key) this.release(installation, previous);
    if (!secret || !key) {
      this.references.delete(installation);
      return;
    }
    this.references.set(installation, key);
    // A key not kept yet (an installation of another mesh naming the same Secret) needs a new cache: the cached object lacks it.
    if (watch && !keptAlready) {
      this.watches.delete(key);
      void watch.informer.stop();
      watch = this.watch(secret, new Set([...watch.keys, ...keys]), watch.installations);
    }
    watch ??= this.watch(secret, new Set(keys), new Set());
    watch.installations.add(installation);
  }

  /** Starts the watch of `secret`, keeping `keys` of its data (see {@link publicTrustAnchorView}). */
  private watch(secret: { namespace: string; name: string }, keys: Set<string>, installations: Set<string>): { informer: Informer; installations: Set<string>; keys: Set<string> } {
    const informer = new Informer({
      client: this.options.client, type: { apiVersion: 'v1', kind: 'Secret' }, namespace: secret.namespace, fieldSelector: `metadata.name=${secret.name}`,
      clock: this.options.clock, onError: this.options.onError, transform: (object) => publicTrustAnchorView(object, keys),
    });
    const created = { informer, installations, keys };
    informer.on(() => {
      for (const name of created.installations) this.options.enqueue(name);
    });
    // Never awaited: a Secret that cannot be watched (RBAC, say) must not hold anything up; the
    // pass still reads it, and the hourly check still runs. Stopping rejects the wait: expected.
    informer.start().catch(() => undefined);
    this.watches.set(`${secret.namespace}/${secret.name}`, created);
    return created;
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
