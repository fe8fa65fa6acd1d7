/**
 * The injection webhook's serving CA as data: the state (kept in one Secret in the operator's own
 * namespace), the pure decision of what it needs next ({@link planWebhookCa}, clock as a
 * parameter, as pki/authority.ts `planAuthority`), and the step that makes it so
 * ({@link takeWebhookCaStep}: crypto only, no I/O). webhook-ca-keeper.ts runs it against the cluster.
 *
 * Renewal never fails an admission. The API server trusts whatever `caBundle` the webhook
 * configurations carry, and every replica serves the Secret's certificate, so a renewal goes in
 * three steps, each only once the one before has reached everyone:
 *
 *   1. addNext:      a new CA joins the bundle (old + new); servers still present the old CA's certificate;
 *   2. switch:       once the bundle with both is published (and has had `settleMs` to reach the API
 *                    servers), servers move to a certificate from the new CA — trusted either way;
 *   3. dropPrevious: `settleMs` after the switch (every replica reloaded), the old CA leaves the bundle.
 *
 * Each renewal makes a new CA rather than re-signing from the old one: the old CA's key then
 * never outlives its certificate, and the CA's lifetime is the serving certificate's.
 */
import { createSelfSigned, describeCertificate, issueCertificate, splitCertificates, type CertificateWithKey } from '../pki/x509.ts';

/** The Secret's default name (in the operator's own namespace). */
export const WEBHOOK_CA_SECRET_NAME = 'meshwright-webhook-ca';

/** Lifetimes and names of what the webhook CA issues. */
export interface WebhookCaSettings {
  /** Lifetime of each CA and of each serving certificate (never beyond its CA's). */
  validityMs: number;
  /** Start a renewal when less than this is left of the serving certificate or its CA. */
  renewBeforeMs: number;
  /**
   * How long a published bundle is given to reach the API servers, and a switched certificate to
   * reach every replica, before the next step relies on it (API servers pick up a webhook
   * configuration within about a second; replicas a Secret within a watch event).
   */
  settleMs: number;
  /** subjectAltName DNS names of the serving certificate (the Service's names in a cluster). */
  dnsNames: readonly string[];
  /** subjectAltName IP addresses (the URL's host when it is one, e.g. 127.0.0.1). */
  ipAddresses: readonly string[];
}

/** Everything kept about the webhook CA. */
export interface WebhookCaState {
  /** The CA that signed {@link serving}. */
  ca: CertificateWithKey;
  /** What every replica presents. */
  serving: CertificateWithKey;
  /** A new CA already in the bundle, not yet serving (renewal step 1 done). */
  next?: CertificateWithKey;
  /** The CA that served before the last switch, still in the bundle (renewal step 2 done). */
  previousCaPem?: string;
  /** When the last step was taken (epoch ms). */
  since: number;
  /** How many times the servers moved to a new CA. */
  renewals: number;
}

/** What the state needs next. */
export type WebhookCaStep =
  | { kind: 'addNext'; why: string }
  | { kind: 'switch'; why: string }
  | { kind: 'dropPrevious'; why: string }
  /** The serving certificate again from the same CA: its names changed, or it cannot be read. */
  | { kind: 'reissue'; why: string }
  | { kind: 'none' };

/** A step and when to look again if nothing happens meanwhile. */
export interface WebhookCaPlan {
  step: WebhookCaStep;
  /** Epoch ms of the next time-driven step (events — a publication — may bring it earlier). */
  nextCheckAt: number;
}

/** What the planner knows of the world besides the state. */
export interface WebhookCaFacts {
  now: number;
  /**
   * Since when every webhook configuration pointing at this operator carries the whole current
   * bundle (undefined: not yet). Only step 2 waits for it.
   */
  publishedSince?: number;
}

/** Backdating tolerates clock skew between the operator and the API servers. */
const BACKDATE_MS = 5 * 60_000;

/** The trust bundle for webhook configurations: previous, current and next CA, as present. */
export function caBundleOf(state: WebhookCaState): string {
  return [state.previousCaPem, state.ca.certificatePem, state.next?.certificatePem].filter((pem): pem is string => !!pem).join('');
}

/** Whether `publishedPem` (a webhook's caBundle) holds every certificate of `bundlePem`. */
export function bundleCovers(publishedPem: string, bundlePem: string): boolean {
  const normalise = (pem: string) => pem.replace(/\s/g, '');
  const published = new Set(splitCertificates(publishedPem).map(normalise));
  const wanted = splitCertificates(bundlePem);
  return wanted.length > 0 && wanted.every((pem) => published.has(normalise(pem)));
}

const sortedNames = (names: readonly string[]) => [...names].sort().join(',');

/** Decides the next step at `facts.now` (pure but for parsing the certificates). */
export async function planWebhookCa(state: WebhookCaState, settings: WebhookCaSettings, facts: WebhookCaFacts): Promise<WebhookCaPlan> {
  const { now } = facts;
  if (state.previousCaPem) {
    const at = state.since + settings.settleMs;
    return at <= now ? { step: { kind: 'dropPrevious', why: 'every replica serves the new CA\'s certificate' }, nextCheckAt: now } : { step: { kind: 'none' }, nextCheckAt: at };
  }
  const ca = await describeCertificate(state.ca.certificatePem);
  const serving = await describeCertificate(state.serving.certificatePem).catch(() => undefined);
  if (state.next) {
    // An expired certificate cannot fail more admissions than it already does: switch at once then.
    if (serving && serving.notAfter.getTime() <= now) return { step: { kind: 'switch', why: 'the serving certificate expired before the new bundle was seen published' }, nextCheckAt: now };
    if (facts.publishedSince !== undefined) {
      const at = facts.publishedSince + settings.settleMs;
      if (at <= now) return { step: { kind: 'switch', why: 'the bundle with both CAs is published' }, nextCheckAt: now };
      return { step: { kind: 'none' }, nextCheckAt: at };
    }
    return { step: { kind: 'none' }, nextCheckAt: serving?.notAfter.getTime() ?? now + settings.settleMs };
  }
  if (!serving) return { step: { kind: 'reissue', why: 'the serving certificate cannot be read' }, nextCheckAt: now };
  const due = Math.min(ca.notAfter.getTime(), serving.notAfter.getTime()) - settings.renewBeforeMs;
  if (due <= now) return { step: { kind: 'addNext', why: `the serving certificate or its CA expires at ${new Date(Math.min(ca.notAfter.getTime(), serving.notAfter.getTime())).toISOString()}` }, nextCheckAt: now };
  const namesChanged = sortedNames(serving.dnsNames) !== sortedNames(settings.dnsNames) || sortedNames(serving.ipAddresses) !== sortedNames(settings.ipAddresses);
  if (namesChanged) return { step: { kind: 'reissue', why: `the serving certificate names ${[...serving.dnsNames, ...serving.ipAddresses].join(', ')}, not ${[...settings.dnsNames, ...settings.ipAddresses].join(', ')}` }, nextCheckAt: now };
  return { step: { kind: 'none' }, nextCheckAt: due };
}

async function newCa(now: number, settings: WebhookCaSettings): Promise<CertificateWithKey> {
  // The time in the name tells the CAs of one bundle apart for a person reading it.
  return createSelfSigned({
    subject: `O=meshwright, CN=meshwright webhook CA ${new Date(now).toISOString()}`,
    notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + settings.validityMs), keyAlgorithm: 'ECDSAP256', isCA: true, pathLength: 0,
  });
}

async function issueServing(ca: CertificateWithKey, now: number, settings: WebhookCaSettings): Promise<CertificateWithKey> {
  const caNotAfter = (await describeCertificate(ca.certificatePem)).notAfter.getTime();
  return issueCertificate({
    subject: `CN=${settings.dnsNames[0] ?? settings.ipAddresses[0] ?? 'meshwright-webhook'}`,
    notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(Math.min(now + settings.validityMs, caNotAfter)),
    keyAlgorithm: 'ECDSAP256', dnsNames: [...settings.dnsNames], ipAddresses: [...settings.ipAddresses], usages: ['serverAuth'],
  }, ca);
}

/** A new webhook CA and a serving certificate from it. */
export async function createWebhookCa(settings: WebhookCaSettings, now: number): Promise<WebhookCaState> {
  const ca = await newCa(now, settings);
  return { ca, serving: await issueServing(ca, now, settings), since: now, renewals: 0 };
}

/** Takes `step` at `now`; returns the new state (the input is not modified). */
export async function takeWebhookCaStep(state: WebhookCaState, step: WebhookCaStep, settings: WebhookCaSettings, now: number): Promise<WebhookCaState> {
  switch (step.kind) {
    case 'none':
      return state;
    case 'reissue':
      return { ...state, serving: await issueServing(state.ca, now, settings), since: now };
    case 'addNext':
      return { ...state, next: await newCa(now, settings), since: now };
    case 'switch': {
      if (!state.next) throw new Error('no next CA to switch to');
      const { next, ...rest } = state;
      return { ...rest, ca: next, serving: await issueServing(next, now, settings), previousCaPem: state.ca.certificatePem, since: now, renewals: state.renewals + 1 };
    }
    case 'dropPrevious': {
      const { previousCaPem: _dropped, ...rest } = state;
      return { ...rest, since: now };
    }
  }
}

/** Keys of the Secret's data. */
const KEYS = {
  caCert: 'ca.crt', caKey: 'ca.key', tlsCert: 'tls.crt', tlsKey: 'tls.key', nextCert: 'next-ca.crt', nextKey: 'next-ca.key', previous: 'previous-ca.crt', bundle: 'ca-bundle.crt',
} as const;
/** Annotations of the Secret: when the last step was taken, and how many renewals it went through. */
export const WEBHOOK_CA_ANNOTATIONS = { since: 'meshwright.dev/webhook-ca-step-at', renewals: 'meshwright.dev/webhook-ca-renewals' } as const;

/** The state as a Secret's `data` (base64) and annotations. The bundle is written too, for people and tools to read. */
export function encodeWebhookCa(state: WebhookCaState): { data: Record<string, string>; annotations: Record<string, string> } {
  const plain: Record<string, string> = {
    [KEYS.caCert]: state.ca.certificatePem, [KEYS.caKey]: state.ca.privateKeyPem,
    [KEYS.tlsCert]: state.serving.certificatePem, [KEYS.tlsKey]: state.serving.privateKeyPem,
    [KEYS.bundle]: caBundleOf(state),
  };
  if (state.next) Object.assign(plain, { [KEYS.nextCert]: state.next.certificatePem, [KEYS.nextKey]: state.next.privateKeyPem });
  if (state.previousCaPem) plain[KEYS.previous] = state.previousCaPem;
  return {
    data: Object.fromEntries(Object.entries(plain).map(([key, value]) => [key, Buffer.from(value).toString('base64')])),
    annotations: { [WEBHOOK_CA_ANNOTATIONS.since]: new Date(state.since).toISOString(), [WEBHOOK_CA_ANNOTATIONS.renewals]: String(state.renewals) },
  };
}

/**
 * Reads the state back from a Secret's data and annotations; throws an error naming the missing
 * keys (never quoting a value) when the Secret was edited into something unusable.
 */
export function decodeWebhookCa(data: Record<string, string> | undefined, annotations: Record<string, string> | undefined, where: string): WebhookCaState {
  const get = (key: string) => (data?.[key] ? Buffer.from(data[key], 'base64').toString('utf8') : undefined);
  const missing = [KEYS.caCert, KEYS.caKey, KEYS.tlsCert, KEYS.tlsKey].filter((key) => !get(key));
  if (missing.length > 0) throw new Error(`the webhook CA Secret ${where} lacks ${missing.join(', ')}; delete it and the operator creates a new webhook CA (webhook configurations follow within a reconcile)`);
  const next = get(KEYS.nextCert) && get(KEYS.nextKey) ? { certificatePem: get(KEYS.nextCert)!, privateKeyPem: get(KEYS.nextKey)! } : undefined;
  const since = Date.parse(annotations?.[WEBHOOK_CA_ANNOTATIONS.since] ?? '');
  const renewals = Number(annotations?.[WEBHOOK_CA_ANNOTATIONS.renewals] ?? 0);
  return {
    ca: { certificatePem: get(KEYS.caCert)!, privateKeyPem: get(KEYS.caKey)! },
    serving: { certificatePem: get(KEYS.tlsCert)!, privateKeyPem: get(KEYS.tlsKey)! },
    ...(next ? { next } : {}),
    ...(get(KEYS.previous) ? { previousCaPem: get(KEYS.previous)! } : {}),
    // An unreadable time counts as long ago: the pending step is not held back by it.
    since: Number.isFinite(since) ? since : 0,
    renewals: Number.isInteger(renewals) && renewals >= 0 ? renewals : 0,
  };
}
