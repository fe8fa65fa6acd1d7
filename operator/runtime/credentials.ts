/**
 * How the operator reaches its API server: the server's address, the TLS settings and the auth
 * header of every request.
 *
 * Why not always client-node's KubeConfig: loading `@kubernetes/client-node` at all brings its whole
 * generated API (some 3,000 modules) into the process, about 55 MB of resident memory for code the
 * operator never calls, in a process whose whole budget is 200 MB with 10,000 pods cached. The
 * operator only ever needs what a pod (in-cluster service account) or a plain kubeconfig
 * (certificate, token or token file) gives; {@link lightCredentials} reads exactly those, and
 * everything else — exec plugins, auth providers, basic auth, impersonation, proxies, several
 * kubeconfig files to merge — is left to client-node, loaded only then ({@link defaultCredentials}).
 * Reading a kubeconfig follows client-node's `loadFromDefault` order: KUBECONFIG, then
 * ~/.kube/config, then the in-cluster service account.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';

/** TLS settings of the connections to the API server. */
export interface TlsSettings {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
}

/** What a client needs to talk to one API server as one user. */
export interface ClusterCredentials {
  /** The API server's URL, without a trailing slash. */
  readonly server: string;
  /** The namespace of the kubeconfig's context, or the service account's. */
  readonly namespace?: string;
  /** Where the credentials came from, for messages ("in-cluster service account", a kubeconfig path). */
  readonly source: string;
  /** TLS settings, resolved once per client (files read then). */
  tls(): Promise<TlsSettings>;
  /** The auth headers of one request, taken fresh each time: tokens rotate. */
  headers(url: string, method: string): Promise<Record<string, string>>;
}

/** Where the pieces of the default resolution are found; tests point them elsewhere. */
export interface CredentialsEnvironment {
  env: NodeJS.ProcessEnv;
  home: string;
  /** The directory of the in-cluster service account's token, CA and namespace. */
  serviceAccountDir: string;
  readFile(path: string): string;
  exists(path: string): boolean;
  /** Milliseconds now: a token file is read again at most once per {@link TOKEN_FILE_REREAD_MS}. */
  now(): number;
}

/** The service account directory of a pod, as client-node and every Kubernetes client use it. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** How often a token file is read again: bound service account tokens are rotated by the kubelet, hourly or sooner. */
export const TOKEN_FILE_REREAD_MS = 60_000;

const processEnvironment = (): CredentialsEnvironment => ({
  env: process.env,
  home: homedir(),
  serviceAccountDir: SERVICE_ACCOUNT_DIR,
  readFile: (path) => readFileSync(path, 'utf8'),
  exists: existsSync,
  now: Date.now,
});

/** A token read from a file, read again when it may have been rotated. */
function tokenFromFile(path: string, environment: CredentialsEnvironment): () => string {
  let token = '';
  let readAt = Number.NEGATIVE_INFINITY;
  return () => {
    if (environment.now() - readAt >= TOKEN_FILE_REREAD_MS) {
      token = environment.readFile(path).trim();
      readAt = environment.now();
    }
    return token;
  };
}

function bearer(token: () => string | undefined): ClusterCredentials['headers'] {
  return async () => {
    const value = token();
    const headers: Record<string, string> = {};
    if (value) headers.Authorization = `Bearer ${value}`;
    return headers;
  };
}

/** The in-cluster credentials, when this process runs in a pod with a service account token. */
function inClusterCredentials(environment: CredentialsEnvironment): ClusterCredentials | undefined {
  const { env, serviceAccountDir } = environment;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const tokenPath = join(serviceAccountDir, 'token');
  if (!host || !port || !environment.exists(tokenPath)) return undefined;
  const caPath = join(serviceAccountDir, 'ca.crt');
  const namespacePath = join(serviceAccountDir, 'namespace');
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    namespace: environment.exists(namespacePath) ? environment.readFile(namespacePath).trim() : undefined,
    source: `the in-cluster service account (${serviceAccountDir})`,
    tls: async () => (environment.exists(caPath) ? { ca: environment.readFile(caPath) } : {}),
    headers: bearer(tokenFromFile(tokenPath, environment)),
  };
}

interface NamedEntry<T> { name: string; [key: string]: unknown; value?: T }
type KubeconfigCluster = { server?: string; 'certificate-authority'?: string; 'certificate-authority-data'?: string; 'insecure-skip-tls-verify'?: boolean; 'tls-server-name'?: string; [key: string]: unknown };
type KubeconfigUser = { 'client-certificate'?: string; 'client-certificate-data'?: string; 'client-key'?: string; 'client-key-data'?: string; token?: string; tokenFile?: string; [key: string]: unknown };
type KubeconfigContext = { cluster?: string; user?: string; namespace?: string };

/** Cluster fields the light reader understands; any other set field (proxy-url, ...) is client-node's. */
const CLUSTER_FIELDS = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name', 'extensions']);
/** User fields the light reader understands; exec, auth-provider, username/password, as/as-groups are client-node's. */
const USER_FIELDS = new Set(['client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'token', 'tokenFile', 'extensions']);

function entry<T>(list: unknown, name: string | undefined, field: string): T | undefined {
  if (!Array.isArray(list) || name === undefined) return undefined;
  const found = (list as Array<NamedEntry<T>>).find((item) => item?.name === name);
  return found?.[field] as T | undefined;
}

/**
 * The credentials of a kubeconfig file's current context, when it uses only what the light reader
 * understands; undefined otherwise (the caller then asks client-node). Paths in it are relative to
 * its directory, as kubectl reads them.
 */
export function kubeconfigFileCredentials(path: string, environment: CredentialsEnvironment): ClusterCredentials | undefined {
  const document = parse(environment.readFile(path)) as { 'current-context'?: string; contexts?: unknown; clusters?: unknown; users?: unknown } | null;
  if (!document) return undefined;
  const context = entry<KubeconfigContext>(document.contexts, document['current-context'], 'context');
  const cluster = entry<KubeconfigCluster>(document.clusters, context?.cluster, 'cluster');
  const user = entry<KubeconfigUser>(document.users, context?.user, 'user') ?? {};
  if (!context || !cluster?.server) return undefined;
  const setFields = (object: Record<string, unknown>) => Object.keys(object).filter((key) => object[key] !== undefined && object[key] !== null);
  if (setFields(cluster).some((key) => !CLUSTER_FIELDS.has(key)) || setFields(user).some((key) => !USER_FIELDS.has(key))) return undefined;
  const resolve = (file: string) => (isAbsolute(file) ? file : join(dirname(path), file));
  const material = (data: string | undefined, file: string | undefined) =>
    data ? Buffer.from(data, 'base64').toString('utf8') : file ? environment.readFile(resolve(file)) : undefined;
  const token = user.token ? () => user.token : user.tokenFile ? tokenFromFile(resolve(user.tokenFile), environment) : () => undefined;
  return {
    server: cluster.server.replace(/\/$/, ''),
    namespace: context.namespace,
    source: `the kubeconfig ${path}`,
    tls: async () => ({
      ca: material(cluster['certificate-authority-data'], cluster['certificate-authority']),
      cert: material(user['client-certificate-data'], user['client-certificate']),
      key: material(user['client-key-data'], user['client-key']),
      ...(cluster['insecure-skip-tls-verify'] ? { rejectUnauthorized: false } : {}),
      ...(cluster['tls-server-name'] ? { servername: cluster['tls-server-name'] } : {}),
    }),
    headers: bearer(token),
  };
}

/**
 * The default resolution (KUBECONFIG, ~/.kube/config, in-cluster) when what it finds is one
 * kubeconfig file or a service account the light reader understands; undefined when client-node
 * must do it (several KUBECONFIG files, exec or provider auth, proxies, nothing found at all).
 */
export function lightCredentials(environment: CredentialsEnvironment = processEnvironment()): ClusterCredentials | undefined {
  const { env } = environment;
  if (env.KUBECONFIG) {
    const files = env.KUBECONFIG.split(':').filter(Boolean);
    return files.length === 1 && environment.exists(files[0]!) ? kubeconfigFileCredentials(files[0]!, environment) : undefined;
  }
  const home = join(environment.home, '.kube', 'config');
  if (environment.exists(home)) return kubeconfigFileCredentials(home, environment);
  return inClusterCredentials(environment);
}

/** Credentials from a client-node KubeConfig (everything it can authenticate with). */
export function kubeConfigCredentials(kc: KubeConfig): ClusterCredentials {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const context = kc.getContextObject(kc.getCurrentContext());
  return {
    server: cluster.server.replace(/\/$/, ''),
    namespace: context?.namespace,
    source: `the kubeconfig context ${kc.getCurrentContext()}`,
    tls: async () => {
      const tls: TlsSettings = {};
      await kc.applyToHTTPSOptions(tls as never);
      return { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: cluster.skipTLSVerify ? false : tls.rejectUnauthorized, servername: tls.servername };
    },
    headers: async (url, method) => {
      // The caller holding a KubeConfig has client-node loaded already: this import costs nothing more.
      const { RequestContext } = await import('@kubernetes/client-node');
      const context = new RequestContext(url, method as never);
      await kc.applySecurityAuthentication(context);
      return context.getHeaders();
    },
  };
}

/** The default resolution: {@link lightCredentials}, else client-node's `loadFromDefault`. */
export async function defaultCredentials(): Promise<ClusterCredentials> {
  const light = lightCredentials();
  if (light) return light;
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kubeConfigCredentials(kc);
}
