/**
 * The injection webhook as one part of the operator process: its settings (flags and environment),
 * the serving CA keeper, the HTTPS server, and the two facts the reconcile pass needs from it —
 * where the API server reaches the webhook, and the CA bundle to trust it by
 * ({@link InjectionWebhook.endpoint}).
 */
import type { Logger } from 'pino';
import { isIP } from 'node:net';
import type { Registry } from 'prom-client';
import { parseDuration } from '../api/duration.ts';
import type { MeshDistribution } from '../distributions/distribution.ts';
import type { NamespaceView, WebhookEndpoint } from '../distributions/injection.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Informer } from '../runtime/informer.ts';
import type { KubeClient, KubeObject } from '../runtime/kube.ts';
import type { AdmissionSources } from './admission.ts';
import { InjectionMetrics } from './metrics.ts';
import { startWebhookServer, type WebhookServer } from './server.ts';
import { bundleCovers, WEBHOOK_CA_SECRET_NAME } from './webhook-ca.ts';
import { WebhookCaKeeper } from './webhook-ca-keeper.ts';

/** Where the API server reaches the webhook, without the CA bundle (that changes at each renewal). */
export type WebhookTarget = { service: { namespace: string; name: string; port: number } } | { url: string };

/** The webhook settings `meshwright run` takes. */
export interface WebhookSettings {
  /** Port the HTTPS server listens on (all interfaces); 0 disables the webhook. */
  port: number;
  /** Where the API server reaches us; undefined: no webhook configuration is rendered. */
  target?: WebhookTarget;
  /** The CA Secret's name (in the operator's own namespace). */
  secretName: string;
  validityMs: number;
  renewBeforeMs: number;
  settleMs: number;
}

const DAY = 86_400_000;
/** Defaults: a year's certificate, renewed a month ahead; a few seconds for a bundle to reach the API servers. */
export const WEBHOOK_DEFAULTS = { port: 9443, validityMs: 365 * DAY, renewBeforeMs: 30 * DAY, settleMs: 5_000 } as const;

function durationOf(value: string, what: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new Error(`${what} must be a duration such as 8760h, 30m or 20s; got ${JSON.stringify(value)} (${(error as Error).message})`);
  }
}

/** Parses `namespace/name:port` (the Service the API server calls). */
export function parseWebhookService(value: string): { namespace: string; name: string; port: number } {
  const match = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?):(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[5]) : NaN;
  if (!match || !(port >= 1 && port <= 65535)) throw new Error(`--webhook-service must be namespace/name:port (e.g. meshwright-system/meshwright-operator-webhook:443); got ${JSON.stringify(value)}`);
  return { namespace: match[1]!, name: match[3]!, port };
}

/** Checks a `--webhook-url`: https, a host, no path, query or fragment (paths are the injectors'). */
export function parseWebhookUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`--webhook-url must be an https URL such as https://127.0.0.1:9443; got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'https:') throw new Error(`--webhook-url must use https (the API server calls webhooks over TLS only); got ${JSON.stringify(value)}`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username) throw new Error(`--webhook-url is the server's base URL, without path, query or credentials (the webhook paths /inject/<installation> are added to it); got ${JSON.stringify(value)}`);
  return `${url.protocol}//${url.host}`;
}

/**
 * Reads the webhook settings from flag values and the environment (flags win). Throws an error
 * naming the flag for anything malformed.
 */
export function webhookSettingsFrom(values: { port?: string; url?: string; service?: string; secretName?: string }, env: NodeJS.ProcessEnv): WebhookSettings {
  const portText = values.port ?? env.MESHWRIGHT_WEBHOOK_PORT ?? String(WEBHOOK_DEFAULTS.port);
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText.trim()) || port > 65535) throw new Error(`--webhook-port must be a port from 0 (no webhook) to 65535; got ${JSON.stringify(portText)}`);
  const url = values.url ?? env.MESHWRIGHT_WEBHOOK_URL;
  const service = values.service ?? env.MESHWRIGHT_WEBHOOK_SERVICE;
  if (url && service) throw new Error('--webhook-url and --webhook-service both given: the API server reaches the webhook one way; give one');
  const target: WebhookTarget | undefined = url ? { url: parseWebhookUrl(url) } : service ? { service: parseWebhookService(service) } : undefined;
  const validityMs = durationOf(env.MESHWRIGHT_WEBHOOK_CERT_VALIDITY ?? `${WEBHOOK_DEFAULTS.validityMs / 1000}s`, 'MESHWRIGHT_WEBHOOK_CERT_VALIDITY');
  const renewBeforeMs = durationOf(env.MESHWRIGHT_WEBHOOK_CERT_RENEW_BEFORE ?? `${WEBHOOK_DEFAULTS.renewBeforeMs / 1000}s`, 'MESHWRIGHT_WEBHOOK_CERT_RENEW_BEFORE');
  const settleMs = durationOf(env.MESHWRIGHT_WEBHOOK_CA_SETTLE ?? `${WEBHOOK_DEFAULTS.settleMs / 1000}s`, 'MESHWRIGHT_WEBHOOK_CA_SETTLE');
  if (renewBeforeMs >= validityMs) throw new Error(`MESHWRIGHT_WEBHOOK_CERT_RENEW_BEFORE (${renewBeforeMs / 1000}s) must be shorter than MESHWRIGHT_WEBHOOK_CERT_VALIDITY (${validityMs / 1000}s), or every certificate is due at once`);
  // Renewal takes two settles (publish, switch) and must finish before the certificate expires.
  if (2 * settleMs >= renewBeforeMs) throw new Error(`MESHWRIGHT_WEBHOOK_CERT_RENEW_BEFORE (${renewBeforeMs / 1000}s) must be longer than two MESHWRIGHT_WEBHOOK_CA_SETTLE (${settleMs / 1000}s): a renewal waits that long twice before the old certificate may expire`);
  const secretName = values.secretName ?? env.MESHWRIGHT_WEBHOOK_SECRET ?? WEBHOOK_CA_SECRET_NAME;
  if (secretName.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(secretName)) {
    throw new Error(`MESHWRIGHT_WEBHOOK_SECRET must be a Secret name (lower-case letters, digits, '-' and '.'); got ${JSON.stringify(secretName)}`);
  }
  return { port, target, secretName, validityMs, renewBeforeMs, settleMs };
}

/** The names the serving certificate must carry for `target`. */
export function servingNames(target: WebhookTarget | undefined): { dnsNames: string[]; ipAddresses: string[] } {
  if (!target) return { dnsNames: [], ipAddresses: ['127.0.0.1'] };
  if ('service' in target) {
    const { name, namespace } = target.service;
    return { dnsNames: [`${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`], ipAddresses: [] };
  }
  const host = new URL(target.url).hostname.replace(/^\[|\]$/g, '');
  return isIP(host) ? { dnsNames: [], ipAddresses: [host] } : { dnsNames: [host], ipAddresses: [] };
}

/** Whether a webhook's clientConfig points at `target`. */
function pointsAt(clientConfig: { url?: string; service?: { namespace?: string; name?: string; port?: number } } | undefined, target: WebhookTarget): boolean {
  if (!clientConfig) return false;
  if ('url' in target) return typeof clientConfig.url === 'string' && (clientConfig.url === target.url || clientConfig.url.startsWith(`${target.url}/`));
  const service = clientConfig.service;
  return service?.namespace === target.service.namespace && service.name === target.service.name && (service.port ?? 443) === target.service.port;
}

/** What {@link InjectionWebhook} reads from the operator: its caches and distributions. */
export interface WebhookCaches {
  installations: Informer;
  namespaces: Informer;
  owned: ReadonlyMap<string, Informer>;
  /** The user's Secrets External CAs name, as cached (public certificate entries only; controllers/referenced-secrets.ts). */
  referenced?: { get(namespace: string, name: string): KubeObject | undefined };
  distributions: readonly MeshDistribution[];
}

/** Settings of {@link InjectionWebhook}. */
export interface InjectionWebhookOptions {
  settings: WebhookSettings;
  client: KubeClient;
  /** The operator's own namespace: where the CA Secret lives. */
  namespace: string;
  caches: WebhookCaches;
  log: Logger;
  registry: Registry;
  clock?: Clock;
}

/** The operator's injection webhook: CA keeper and HTTPS server. */
export class InjectionWebhook {
  readonly keeper: WebhookCaKeeper;
  private readonly metrics: InjectionMetrics;
  private server?: WebhookServer;

  constructor(private readonly options: InjectionWebhookOptions) {
    const { settings, caches, log } = options;
    this.metrics = new InjectionMetrics(options.registry);
    this.keeper = new WebhookCaKeeper({
      client: options.client, namespace: options.namespace, name: settings.secretName, log: log.child({ component: 'webhook-ca' }), clock: options.clock,
      settings: { validityMs: settings.validityMs, renewBeforeMs: settings.renewBeforeMs, settleMs: settings.settleMs, ...servingNames(settings.target) },
      published: (bundle) => this.published(bundle),
      onStep: (step) => this.metrics.countCaStep(step),
    });
    this.keeper.onChange((state) => this.server?.setCertificate(state.serving));
    // A webhook configuration written (by the leader's pass) may complete a publication.
    caches.owned.get(MUTATING_WEBHOOK_KEY)?.on(() => this.keeper.check());
  }

  /** The port the server listens on (after {@link start}). */
  get port(): number | undefined {
    return this.server?.port;
  }

  /** Reads (or creates) the CA, then serves. */
  async start(): Promise<void> {
    const state = await this.keeper.start();
    this.server = await startWebhookServer({
      address: `:${this.options.settings.port}`, certificate: state.serving, sources: this.sources(), log: this.options.log.child({ component: 'webhook' }), metrics: this.metrics,
    });
    // The Secret may have changed while the server started.
    const current = this.keeper.current();
    if (current) this.server.setCertificate(current.serving);
  }

  async stop(): Promise<void> {
    await this.server?.close();
    await this.keeper.stop();
  }

  /** Where the API server reaches the webhook and what it trusts; undefined while either is unknown. */
  endpoint(): WebhookEndpoint | undefined {
    const { target } = this.options.settings;
    const caBundlePem = this.keeper.caBundlePem();
    if (!target || !caBundlePem) return undefined;
    return { ...target, caBundlePem };
  }

  /** Reads for admissions: caches only. */
  private sources(): AdmissionSources {
    const { caches } = this.options;
    const distributions = new Map(caches.distributions.map((d) => [d.mesh as string, d]));
    return {
      installation: (name) => caches.installations.get(name),
      namespace: (name) => {
        const ns = caches.namespaces.get(name);
        return ns ? { name, labels: ns.metadata.labels ?? {}, annotations: ns.metadata.annotations ?? {} } satisfies NamespaceView : undefined;
      },
      distribution: (mesh) => distributions.get(mesh),
      owned: (kind, namespace, name) => caches.owned.get(`v1/${kind}`)?.get(name, namespace),
      referenced: (namespace, name) => caches.referenced?.get(namespace, name),
    };
  }

  /** Whether the webhook configurations in the caches carry all of `bundle` (see {@link bundlePublished}). */
  private published(bundle: string): boolean {
    const { target } = this.options.settings;
    const { caches } = this.options;
    if (!target) return true;
    const configurations = caches.owned.get(MUTATING_WEBHOOK_KEY)?.list() ?? [];
    return bundlePublished(configurations, (name) => caches.installations.get(name) !== undefined, target, bundle);
  }
}

/** The owned-cache key of MutatingWebhookConfigurations. */
export const MUTATING_WEBHOOK_KEY = 'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';

/**
 * Whether every mutating webhook that points at `target`, in a configuration owned by an
 * installation this operator manages (`managed`), carries all of `bundle` in its caBundle. None
 * pointing at us: nothing to wait for. Webhooks pointing elsewhere (another operator's, a mesh's
 * own) are not ours to wait for. Pure.
 */
export function bundlePublished(configurations: readonly KubeObject[], managed: (installation: string) => boolean, target: WebhookTarget, bundle: string): boolean {
  for (const configuration of configurations) {
    const owner = configuration.metadata.labels?.['meshwright.dev/installation'];
    if (owner === undefined || !managed(owner)) continue;
    for (const webhook of webhooksOf(configuration)) {
      if (!pointsAt(webhook.clientConfig, target)) continue;
      const published = webhook.clientConfig?.caBundle ? Buffer.from(webhook.clientConfig.caBundle, 'base64').toString('utf8') : '';
      if (!bundleCovers(published, bundle)) return false;
    }
  }
  return true;
}

interface Webhook {
  clientConfig?: { url?: string; caBundle?: string; service?: { namespace?: string; name?: string; port?: number } };
}

function webhooksOf(configuration: KubeObject): Webhook[] {
  return Array.isArray(configuration.webhooks) ? (configuration.webhooks as Webhook[]) : [];
}
