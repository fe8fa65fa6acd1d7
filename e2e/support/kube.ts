/**
 * Helpers shared by the end-to-end tests: a client for the cluster the test runner provides
 * (`KUBECONFIG`), throw-away namespaces, and polling with a deadline.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { CRD_FILE } from '../../operator/api/crd.ts';
import { API_VERSION, KIND } from '../../operator/api/meshinstallation.ts';
import { isNotFound, type KubeClient, type KubeObject, type TypeRef } from '../../operator/runtime/kube.ts';

/** The kubeconfig of the cluster under test; the test runner always sets KUBECONFIG. */
export function testKubeConfig(): KubeConfig {
  if (!process.env.KUBECONFIG) throw new Error('KUBECONFIG is not set: run the tests through `npm test` (e2e/run-tests.ts)');
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

/** Typed clients for the cluster under test. */
export function clients(kc = testKubeConfig()) {
  return { kc, core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), objects: KubernetesObjectApi.makeApiClient(kc) };
}

/** Creates a namespace with a unique name derived from `prefix` and returns its name. */
export async function createTestNamespace(core: CoreV1Api, prefix: string): Promise<string> {
  const ns = await core.createNamespace({ body: { metadata: { generateName: `${prefix}-`, labels: { 'meshwright.dev/test': prefix } } } });
  return ns.metadata!.name!;
}

/**
 * Polls `probe` until it returns a value other than undefined/false, or fails after `timeoutMs`
 * with the last observation in the message, so a failing test says what it saw.
 */
export async function eventually<T>(description: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The HTTP status of a failed client call, or undefined. */
export function statusCode(error: unknown): number | undefined {
  return (error as { code?: number }).code;
}

/**
 * Installs the committed MeshInstallation CRD by server-side apply through our JSON client (the
 * typed apiextensions client drops defaults and CEL rules) and waits until it is served.
 */
export async function installMeshInstallationCrd(client: KubeClient): Promise<void> {
  const crd = parse(readFileSync(join(import.meta.dirname, '..', '..', CRD_FILE), 'utf8')) as KubeObject;
  await client.apply(crd, { force: true, manager: 'meshwright-e2e' });
  await eventually('the MeshInstallation CRD to be served', async () => (await client.resourceInfo({ apiVersion: API_VERSION, kind: KIND })).plural === 'meshinstallations', 30_000);
}

/** The object, or undefined when the API server says it does not exist (other errors are thrown). */
export async function getIfExists<T extends KubeObject = KubeObject>(client: KubeClient, type: TypeRef, name: string, namespace?: string): Promise<T | undefined> {
  try {
    return await client.get<T>(type, name, namespace);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
