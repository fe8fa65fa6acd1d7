import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { lightCredentials, TOKEN_FILE_REREAD_MS, type CredentialsEnvironment } from './credentials.ts';

/** An environment over an in-memory file system and a clock the test moves. */
function environment(files: Record<string, string>, env: NodeJS.ProcessEnv = {}): CredentialsEnvironment & { files: Record<string, string>; advance(ms: number): void } {
  let now = 1_000_000;
  return {
    files, env, home: '/home/me', serviceAccountDir: '/sa',
    readFile: (path) => {
      if (!(path in files)) throw new Error(`ENOENT: ${path}`);
      return files[path]!;
    },
    exists: (path) => path in files,
    now: () => now,
    advance: (ms) => void (now += ms),
  };
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = { server: 'https://api.example:6443/', 'certificate-authority-data': b64('CA PEM') }, namespace?: string): string {
  return stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'here',
    contexts: [{ name: 'elsewhere', context: { cluster: 'other', user: 'other' } }, { name: 'here', context: { cluster: 'c', user: 'u', ...(namespace ? { namespace } : {}) } }],
    clusters: [{ name: 'other', cluster: { server: 'https://wrong' } }, { name: 'c', cluster }],
    users: [{ name: 'other', user: { token: 'wrong' } }, { name: 'u', user }],
  });
}

test('a kubeconfig with client certificate data: the current context\'s server, CA, certificate and key, no auth header', async () => {
  const credentials = lightCredentials(environment({ '/k/config': kubeconfig({ 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') }, undefined, 'team') }, { KUBECONFIG: '/k/config' }))!;
  assert.equal(credentials.server, 'https://api.example:6443');
  assert.equal(credentials.namespace, 'team');
  assert.deepEqual(await credentials.tls(), { ca: 'CA PEM', cert: 'CERT', key: 'KEY' });
  assert.deepEqual(await credentials.headers('https://api.example:6443/api', 'GET'), {});
});

test('files named in a kubeconfig are read relative to its directory; skip-verify and the TLS server name carry over', async () => {
  const files = {
    '/k/config': kubeconfig({ 'client-certificate': 'certs/me.crt', 'client-key': '/abs/me.key' }, { server: 'https://10.0.0.1', 'certificate-authority': 'ca.crt', 'insecure-skip-tls-verify': true, 'tls-server-name': 'kubernetes' }),
    '/k/certs/me.crt': 'CERT FILE', '/abs/me.key': 'KEY FILE', '/k/ca.crt': 'CA FILE',
  };
  const credentials = lightCredentials(environment(files, { KUBECONFIG: '/k/config' }))!;
  assert.deepEqual(await credentials.tls(), { ca: 'CA FILE', cert: 'CERT FILE', key: 'KEY FILE', rejectUnauthorized: false, servername: 'kubernetes' });
});

test('a token file is read again after a minute, so a rotated token is used; a static token is sent as it is', async () => {
  const env = environment({ '/k/config': kubeconfig({ tokenFile: 'token' }), '/k/token': 'first\n' }, { KUBECONFIG: '/k/config' });
  const credentials = lightCredentials(env)!;
  assert.deepEqual(await credentials.headers('u', 'GET'), { Authorization: 'Bearer first' });
  env.files['/k/token'] = 'second';
  env.advance(TOKEN_FILE_REREAD_MS - 1);
  assert.deepEqual(await credentials.headers('u', 'GET'), { Authorization: 'Bearer first' }, 'not read again within the minute');
  env.advance(1);
  assert.deepEqual(await credentials.headers('u', 'GET'), { Authorization: 'Bearer second' });

  const fixed = lightCredentials(environment({ '/k/config': kubeconfig({ token: 'abc' }) }, { KUBECONFIG: '/k/config' }))!;
  assert.deepEqual(await fixed.headers('u', 'POST'), { Authorization: 'Bearer abc' });
});

test('in a pod (no kubeconfig): the service account\'s token, CA and namespace, the server from KUBERNETES_SERVICE_HOST/PORT (IPv6 bracketed)', async () => {
  const files = { '/sa/token': 'sa-token', '/sa/ca.crt': 'CLUSTER CA', '/sa/namespace': 'meshwright-system\n' };
  const credentials = lightCredentials(environment(files, { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }))!;
  assert.equal(credentials.server, 'https://10.96.0.1:443');
  assert.equal(credentials.namespace, 'meshwright-system');
  assert.deepEqual(await credentials.tls(), { ca: 'CLUSTER CA' });
  assert.deepEqual(await credentials.headers('u', 'GET'), { Authorization: 'Bearer sa-token' });
  const v6 = lightCredentials(environment(files, { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }))!;
  assert.equal(v6.server, 'https://[fd00::1]:443');
});

test('the default order: KUBECONFIG, then ~/.kube/config, then the service account', () => {
  const sa = { '/sa/token': 't' };
  const inPod = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
  const home = { '/home/me/.kube/config': kubeconfig({ token: 'home' }, { server: 'https://home' }) };
  assert.equal(lightCredentials(environment({ ...sa, ...home, '/k/config': kubeconfig({ token: 'k' }, { server: 'https://env' }) }, { ...inPod, KUBECONFIG: '/k/config' }))!.server, 'https://env');
  assert.equal(lightCredentials(environment({ ...sa, ...home }, inPod))!.server, 'https://home');
  assert.equal(lightCredentials(environment(sa, inPod))!.server, 'https://10.96.0.1:443');
});

test('what only client-node understands is left to it: exec and provider auth, basic auth, impersonation, proxies, several files, nothing found', () => {
  const with_ = (user: Record<string, unknown>, cluster?: Record<string, unknown>) => lightCredentials(environment({ '/k/config': kubeconfig(user, cluster) }, { KUBECONFIG: '/k/config' }));
  assert.equal(with_({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws' } }), undefined);
  assert.equal(with_({ 'auth-provider': { name: 'oidc' } }), undefined);
  assert.equal(with_({ username: 'admin', password: 'secret' }), undefined);
  assert.equal(with_({ token: 't', as: 'someone' }), undefined);
  assert.equal(with_({ token: 't' }, { server: 'https://x', 'proxy-url': 'http://proxy:3128' }), undefined);
  assert.equal(lightCredentials(environment({ '/a': kubeconfig({ token: 't' }), '/b': kubeconfig({ token: 't' }) }, { KUBECONFIG: '/a:/b' })), undefined);
  assert.equal(lightCredentials(environment({}, {})), undefined);
  // A context naming no cluster with a server: client-node says what is wrong.
  assert.equal(with_({ token: 't' }, { 'certificate-authority-data': b64('x') }), undefined);
});
