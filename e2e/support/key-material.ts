/**
 * Looks for private keys where they must never be: an installation's status (conditions
 * included), the Events about it, and the operator's log. Independent of the operator's own
 * redaction, which a test using it would only check against itself: it searches for the very keys
 * a scenario used, in every encoding they could leak in (PEM, its body as DER base64 with or
 * without line breaks, base64 of the PEM, hex of the DER), and for anything that reads as a
 * private key (a PEM private-key header, also inside base64).
 */
import assert from 'node:assert/strict';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import type { KubeClient, KubeObject } from '../../operator/runtime/kube.ts';
import { getIfExists } from './kube.ts';

/** A Secret by namespace and name. */
export interface SecretName {
  namespace: string;
  name: string;
}

const PRIVATE_KEY_PEM = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const BASE64_RUN = /[A-Za-z0-9+/]{40,}={0,2}/g;

/** Every PEM private key the named Secrets hold (those that exist), for {@link assertNoKeyMaterial}. */
export async function privateKeysIn(client: KubeClient, secrets: readonly SecretName[]): Promise<string[]> {
  const keys: string[] = [];
  for (const ref of secrets) {
    const secret = await getIfExists<KubeObject & { data?: Record<string, string> }>(client, { apiVersion: 'v1', kind: 'Secret' }, ref.name, ref.namespace);
    for (const value of Object.values(secret?.data ?? {})) {
      const text = Buffer.from(value, 'base64').toString('utf8');
      for (const block of text.match(/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----/g) ?? []) keys.push(block);
    }
  }
  return [...new Set(keys)];
}

/** Fragments of `pem` as it would read in each encoding it could leak in. */
function leakForms(pem: string): Array<{ encoding: string; fragment: string }> {
  const body = pem.replace(/-----[A-Z0-9 ]+-----/g, '').replace(/\s/g, '');
  const der = Buffer.from(body, 'base64');
  // From the middle, and long enough never to occur by chance; base64 of the PEM starts at its first
  // byte, so its fragment lines up with any encoding of the whole PEM.
  return [
    { encoding: 'DER base64 (the PEM body)', fragment: body.slice(12, 52) },
    { encoding: 'base64 of the PEM', fragment: Buffer.from(pem).toString('base64').slice(24, 64) },
    { encoding: 'hex of the DER', fragment: der.toString('hex').slice(24, 104) },
  ];
}

/** What in `text` is key material: a known key in any encoding, or anything shaped like a private key. */
export function keyMaterialIn(text: string, knownKeys: readonly string[]): string[] {
  // Line breaks, raw or JSON-escaped, split a PEM body across lines: join them before searching.
  const joined = text.replace(/\\[nr]|\s/g, '');
  const found: string[] = [];
  knownKeys.forEach((key, i) => {
    for (const { encoding, fragment } of leakForms(key)) if (joined.includes(fragment)) found.push(`known key #${i + 1} as ${encoding}`);
  });
  if (PRIVATE_KEY_PEM.test(text)) found.push('a PEM private key');
  for (const run of joined.match(BASE64_RUN) ?? []) {
    if (PRIVATE_KEY_PEM.test(Buffer.from(run, 'base64').toString('latin1'))) {
      found.push('a base64-encoded PEM private key');
      break;
    }
  }
  return found;
}

/** Where to look. */
export interface KeyMaterialScan {
  client: KubeClient;
  /** MeshInstallations whose status (if they still exist) and Events are read. */
  installations: readonly string[];
  /** The operator's log as written. */
  log: string;
  /** Private keys the scenario used (see {@link privateKeysIn}). */
  knownKeys: readonly string[];
}

/** Fails, naming each place and encoding (never the key), if a private key reached status, an Event or the log. */
export async function assertNoKeyMaterial(scan: KeyMaterialScan): Promise<void> {
  const places: Array<{ where: string; text: string }> = [{ where: 'operator log', text: scan.log }];
  for (const name of scan.installations) {
    const mi = await getIfExists<KubeObject & { status?: unknown }>(scan.client, { apiVersion: API_VERSION, kind: KIND }, name);
    if (mi) places.push({ where: `status of ${name}`, text: JSON.stringify(mi.status ?? {}) });
  }
  // Events about a cluster-scoped object are recorded in `default`.
  const events = await scan.client.list<KubeObject & { regarding?: { kind?: string; name?: string } }>({ apiVersion: 'events.k8s.io/v1', kind: 'Event' }, { namespace: 'default' });
  for (const event of events.items) {
    if (event.regarding?.kind === KIND && scan.installations.includes(event.regarding.name ?? '')) places.push({ where: `Event ${event.metadata.name}`, text: JSON.stringify(event) });
  }
  const leaks = places.flatMap(({ where, text }) => keyMaterialIn(text, scan.knownKeys).map((what) => `${where}: ${what}`));
  assert.deepEqual(leaks, [], 'no private key in status, Events or the operator log');
}
