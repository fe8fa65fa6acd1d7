/**
 * A real Kubernetes control plane as local processes on 127.0.0.1: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler and kwok (fake nodes, pods walked through their
 * lifecycle by the stages in `./stages`). Used by the test command and by `npm run cluster:up`.
 *
 * Every process runs in its own process group, recorded in `<dir>/state.json`, so a cluster can
 * be stopped from another process (`cluster:down`) and leftovers of an interrupted run are
 * reaped before the next start.
 */
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { createSelfSigned, issueCertificate } from '../../operator/pki/x509.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** Where the stage files for kwok live. */
export const stagesDir = join(here, 'stages');

/** What a running local cluster leaves on disk for others to find it. */
export interface ClusterState {
  dir: string;
  binDir: string;
  kubeconfig: string;
  apiServerUrl: string;
  /**
   * The API server's audit log (JSON lines, one per request at ResponseComplete with verb, URI and
   * user agent): the ground truth for "how many requests did a client send".
   */
  auditLog: string;
  /** Component name → pid (= process group id) in start order. */
  processes: Array<{ name: string; pid: number }>;
}

/** Options of {@link startLocalCluster}. */
export interface StartOptions {
  /** Directory for state, certificates, etcd data and logs; recreated on start. */
  dir: string;
  /** Number of fake kwok nodes. */
  nodes?: number;
  /** Progress lines go here (default: stderr). */
  log?: (line: string) => void;
  /**
   * Reap the cluster when this pid exits, even by SIGKILL: a detached watchdog polls it. Test runs
   * pass their own pid so that an interrupted run leaves no process behind.
   */
  stopWhenProcessExits?: number;
}

const defaultLog = (line: string) => process.stderr.write(`[cluster] ${line}\n`);

/**
 * Builds (or finds cached) control-plane binaries and returns their directory.
 * The build script prints the directory on its last stdout line; its progress goes to stderr.
 */
export function ensureToolchain(): string {
  const result = spawnSync('bash', [join(here, '..', 'toolchain', 'build.sh')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`building the control-plane toolchain failed (exit ${result.status})`);
  const binDir = result.stdout.trim().split('\n').pop();
  if (!binDir || !existsSync(join(binDir, 'kube-apiserver'))) throw new Error(`toolchain build printed no binary directory: ${result.stdout}`);
  return binDir;
}

/** A free TCP port on 127.0.0.1 (released before use: a tiny race we accept in tests). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * `count` distinct free ports. Each listener stays open until all are taken: closed one by one,
 * the OS may hand the same port out again, and a process given it twice fails to bind.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolveServer, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolveServer(server));
  })));
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolveClosed) => server.close(resolveClosed))));
  return ports;
}

interface Tls { ca: string; cert: string; key: string }

/** GET over TLS with the admin client certificate; resolves with the status code (0 when unreachable). */
function httpsStatus(url: string, tls: Tls): Promise<number> {
  return new Promise((resolveStatus) => {
    const req = request(url, { ...tls, timeout: 2000 }, (res) => {
      res.resume();
      resolveStatus(res.statusCode ?? 0);
    });
    req.on('error', () => resolveStatus(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, isAlive: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    const dead = isAlive();
    if (dead) throw new Error(`${what}: ${dead}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Reads the state of a cluster started in `dir`, or undefined when there is none. */
export function readClusterState(dir: string): ClusterState | undefined {
  const file = join(dir, 'state.json');
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as ClusterState;
}

/**
 * Stops every process of the cluster in `dir` (reverse start order, SIGTERM then SIGKILL after a
 * grace period) and removes its state file. Safe to call when nothing runs.
 */
export async function stopLocalCluster(dir: string, log: (line: string) => void = defaultLog): Promise<void> {
  const state = readClusterState(dir);
  if (!state) return;
  for (const { name, pid } of [...state.processes].reverse()) {
    if (!isRunning(pid)) continue;
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      continue;
    }
    const deadline = Date.now() + 10_000;
    while (isRunning(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (isRunning(pid)) {
      log(`${name} did not stop on SIGTERM; killing it`);
      try {
        process.kill(-pid, 'SIGKILL');
      } catch { /* already gone */ }
    }
  }
  rmSync(join(dir, 'state.json'), { force: true });
  log(`stopped the cluster in ${dir}`);
}

/** Writes a kubeconfig for `server` authenticating with a client certificate. */
function kubeconfigYaml(server: string, ca: string, cert: string, key: string): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'meshwright-local', cluster: { server, 'certificate-authority-data': b64(ca) } }],
    users: [{ name: 'meshwright-admin', user: { 'client-certificate-data': b64(cert), 'client-key-data': b64(key) } }],
    contexts: [{ name: 'meshwright-local', context: { cluster: 'meshwright-local', user: 'meshwright-admin' } }],
    'current-context': 'meshwright-local',
  });
}

/**
 * Starts a fresh cluster in `opts.dir` and resolves once the API server is ready, the fake nodes
 * are Ready and the default ServiceAccount exists (so pods can be created at once).
 */
export async function startLocalCluster(opts: StartOptions): Promise<ClusterState> {
  const log = opts.log ?? defaultLog;
  const dir = resolve(opts.dir);
  await stopLocalCluster(dir, log);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'pki'), { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });

  const binDir = ensureToolchain();
  const started = Date.now();

  // PKI: one CA signs the API server's serving certificate and the admin's client certificate.
  const now = new Date(Date.now() - 60_000);
  const later = new Date(Date.now() + 365 * 24 * 3600_000);
  const ca = await createSelfSigned({ subject: 'CN=meshwright-local-ca', notBefore: now, notAfter: later, keyAlgorithm: 'ECDSAP256', isCA: true });
  const serving = await issueCertificate({
    subject: 'CN=kube-apiserver', notBefore: now, notAfter: later, keyAlgorithm: 'ECDSAP256', usages: ['serverAuth'],
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    ipAddresses: ['127.0.0.1', '10.96.0.1'],
  }, ca);
  const admin = await issueCertificate({ subject: 'CN=meshwright-admin, O=system:masters', notBefore: now, notAfter: later, keyAlgorithm: 'ECDSAP256', usages: ['clientAuth'] }, ca);
  const saKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const pki = (name: string, content: string) => {
    const file = join(dir, 'pki', name);
    writeFileSync(file, content, { mode: 0o600 });
    return file;
  };
  const caFile = pki('ca.crt', ca.certificatePem);
  const servingCert = pki('apiserver.crt', serving.certificatePem);
  const servingKey = pki('apiserver.key', serving.privateKeyPem);
  const saKeyFile = pki('service-account.key', saKey);

  const [etcdPort, etcdPeerPort, apiPort, schedulerPort, controllerManagerPort, kwokPort] =
    await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
  const apiServerUrl = `https://127.0.0.1:${apiPort}`;
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigYaml(apiServerUrl, ca.certificatePem, admin.certificatePem, admin.privateKeyPem), { mode: 0o600 });

  const auditLog = join(dir, 'logs', 'audit.log');
  // Metadata level, one event per completed request; reads of the components' own leases are noise.
  const auditPolicy = join(dir, 'audit-policy.yaml');
  writeFileSync(auditPolicy, stringify({
    apiVersion: 'audit.k8s.io/v1', kind: 'Policy', omitStages: ['RequestReceived', 'ResponseStarted'],
    rules: [{ level: 'Metadata' }],
  }));
  const state: ClusterState = { dir, binDir, kubeconfig, apiServerUrl, auditLog, processes: [] };
  const saveState = () => writeFileSync(join(dir, 'state.json'), JSON.stringify(state, null, 2));
  const exited = new Map<string, string>();
  const launch = (name: string, args: string[]) => {
    const out = openSync(join(dir, 'logs', `${name}.log`), 'a');
    const child = spawn(join(binDir, name), args, { detached: true, stdio: ['ignore', out, out] });
    child.on('exit', (code, signal) => exited.set(name, `${name} exited (${signal ?? code}); see ${join(dir, 'logs', `${name}.log`)}`));
    child.unref();
    state.processes.push({ name, pid: child.pid! });
    saveState();
  };
  const firstExit = () => exited.values().next().value as string | undefined;

  if (opts.stopWhenProcessExits) {
    // A detached watchdog: when the owning process dies (even by SIGKILL), it reaps every group.
    const watchdog = spawn('bash', ['-c', `
      while kill -0 ${opts.stopWhenProcessExits} 2>/dev/null; do sleep 1; done
      pids=$(grep -o '"pid": [0-9]*' '${join(dir, 'state.json')}' 2>/dev/null | grep -o '[0-9]*')
      for p in $pids; do kill -TERM -- -$p 2>/dev/null; done; sleep 5
      for p in $pids; do kill -KILL -- -$p 2>/dev/null; done`], { detached: true, stdio: 'ignore' });
    watchdog.unref();
  }

  try {
    launch('etcd', [
      '--name=meshwright', `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`, `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
      `--initial-cluster=meshwright=http://127.0.0.1:${etcdPeerPort}`,
      '--unsafe-no-fsync', '--log-level=warn', '--quota-backend-bytes=4294967296',
    ]);
    launch('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${apiPort}`,
      `--tls-cert-file=${servingCert}`, `--tls-private-key-file=${servingKey}`, `--client-ca-file=${caFile}`,
      '--authorization-mode=RBAC', '--anonymous-auth=false',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${saKeyFile}`, `--service-account-signing-key-file=${saKeyFile}`,
      '--service-cluster-ip-range=10.96.0.0/16', '--allow-privileged=true',
      // The "kubernetes" Service's endpoints would point at 127.0.0.1, which nothing in-cluster uses here.
      '--endpoint-reconciler-type=none',
      `--audit-policy-file=${auditPolicy}`, `--audit-log-path=${auditLog}`, '--audit-log-format=json',
      '--audit-log-maxsize=200', '--audit-log-maxbackup=2', '--audit-log-mode=blocking',
      '--profiling=false', '--v=0',
    ]);
    const tls: Tls = { ca: ca.certificatePem, cert: admin.certificatePem, key: admin.privateKeyPem };
    await waitFor('kube-apiserver /readyz', async () => (await httpsStatus(`${apiServerUrl}/readyz`, tls)) === 200, 90_000, firstExit);
    log(`kube-apiserver ready at ${apiServerUrl} (${Date.now() - started} ms)`);

    launch('kube-controller-manager', [
      `--kubeconfig=${kubeconfig}`, '--leader-elect=false', `--service-account-private-key-file=${saKeyFile}`,
      `--root-ca-file=${caFile}`, '--use-service-account-credentials=false',
      // All default controllers. node-lifecycle must stay: it lifts the not-ready taint that
      // admission puts on every new Node (kwok renews the node leases it reads).
      '--controllers=*', '--bind-address=127.0.0.1', `--secure-port=${controllerManagerPort}`,
      `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
      '--concurrent-deployment-syncs=10', '--concurrent-replicaset-syncs=10', '--concurrent-gc-syncs=20',
    ]);
    launch('kube-scheduler', [
      `--kubeconfig=${kubeconfig}`, '--leader-elect=false', '--bind-address=127.0.0.1', `--secure-port=${schedulerPort}`,
      `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
    ]);
    launch('kwok', [
      `--kubeconfig=${kubeconfig}`, '--manage-all-nodes=true', `--config=${join(stagesDir, 'node.yaml')}`,
      `--config=${join(stagesDir, 'pod.yaml')}`, `--server-address=127.0.0.1:${kwokPort}`, '--cidr=10.244.0.0/16',
      '--node-ip=10.255.0.1', '--node-lease-duration-seconds=40', '--v=WARN',
    ]);

    const kubectl = (args: string[], input?: string) => {
      const r = spawnSync(join(binDir, 'kubectl'), [`--kubeconfig=${kubeconfig}`, ...args], { input, encoding: 'utf8' });
      return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
    };
    const nodes = Array.from({ length: opts.nodes ?? 3 }, (_, i) => ({
      apiVersion: 'v1', kind: 'Node',
      metadata: {
        name: `kwok-node-${i}`,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        // The node roles production-shaped specs pin their control plane to (examples/istio-ha-gateways.yaml,
        // the golden specs): every fake node has them, so those specs become Ready here.
        labels: {
          type: 'kwok', 'kubernetes.io/hostname': `kwok-node-${i}`, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', 'topology.kubernetes.io/zone': `zone-${i % 3}`,
          'node-role.example.com/infra': 'true', 'node-role.example.org/mesh': 'true',
        },
      },
    }));
    const created = kubectl(['apply', '-f', '-'], nodes.map((n) => JSON.stringify(n)).join('\n'));
    if (!created.ok) throw new Error(`creating fake nodes failed: ${created.out}`);
    // Schedulable means Ready and the not-ready taint lifted by the node-lifecycle controller.
    await waitFor('fake nodes Ready and untainted', () => {
      const r = kubectl(['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}/{.spec.taints[*].key}{" "}{end}']);
      return r.ok && r.out.trim().split(' ').filter((s) => s === 'True/').length === nodes.length;
    }, 90_000, firstExit);
    await waitFor('the default ServiceAccount', () => kubectl(['get', 'serviceaccount', 'default', '-n', 'default']).ok, 60_000, firstExit);
    log(`cluster ready in ${Date.now() - started} ms; KUBECONFIG=${kubeconfig}`);
    return state;
  } catch (error) {
    await stopLocalCluster(dir, log);
    throw error;
  }
}
