/**
 * The real istiod (`pilot-discovery`) run as a local process the way a kubelet would run the
 * Deployment the operator rendered: the container's args and env (field references resolved as
 * the kubelet resolves them), the `cacerts` Secret written as files where the Deployment mounts
 * it (under a private directory that stands for the container's root), and the ports moved off
 * the privileged defaults. Where a kubelet's world does not exist here, the substitute is named:
 * `KUBECONFIG` is the test cluster's (the pod would use its in-cluster account), no webhook
 * configuration is patched, and no gateway Deployments are created.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:http2';
import { availableParallelism } from 'node:os';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../../operator/runtime/kube.ts';
import { freePorts } from '../cluster/local-cluster.ts';

type EnvVar = { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string }; resourceFieldRef?: { resource: string } } };
type Container = { name: string; args?: string[]; env?: EnvVar[]; volumeMounts?: Array<{ name: string; mountPath: string }>; resources?: { limits?: Record<string, string> } };
/** A Deployment as far as this module reads it. */
export type Deployment = KubeObject & { spec: { template: { spec: { serviceAccountName?: string; containers: Container[]; volumes?: Array<{ name: string; secret?: { secretName: string } }> } } } };

/** A running istiod and where to reach it. */
export interface IstiodProcess {
  process: ChildProcess;
  /** The directory standing for the container's root (its working directory). */
  root: string;
  logFile: string;
  ports: { http: number; grpc: number; secureGrpc: number; monitoring: number; ctrlz: number; https: number };
  /** The env it was started with (for the test to show). */
  env: Record<string, string>;
  args: string[];
  log(): string;
  /** Resolves with the exit code (or signal) once it exits. */
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

/** What a kubelet would put in a fieldRef/resourceFieldRef env var for this pod. */
function resolveEnv(deployment: Deployment, container: Container, podName: string, variable: EnvVar): string | undefined {
  if (variable.value !== undefined) return variable.value;
  const field = variable.valueFrom?.fieldRef?.fieldPath;
  if (field === 'metadata.name') return podName;
  if (field === 'metadata.namespace') return deployment.metadata.namespace;
  if (field === 'spec.serviceAccountName') return deployment.spec.template.spec.serviceAccountName ?? 'default';
  const resource = variable.valueFrom?.resourceFieldRef?.resource;
  // A limit rounded up to whole cores; without one the kubelet gives the node's allocatable CPU.
  if (resource === 'limits.cpu') {
    const limit = container.resources?.limits?.cpu;
    if (!limit) return String(availableParallelism());
    return String(Math.max(1, Math.ceil(limit.endsWith('m') ? Number(limit.slice(0, -1)) / 1000 : Number(limit))));
  }
  return undefined;
}

/**
 * Starts istiod for `deployment` (the rendered one) with `cacerts` (file name → PEM, the Secret's
 * data) against the cluster of `kubeconfig`.
 */
export async function startIstiod(binary: string, deployment: Deployment, cacerts: Record<string, string>, kubeconfig: string): Promise<IstiodProcess> {
  const podSpec = deployment.spec.template.spec;
  const container = podSpec.containers.find((c) => c.name === 'discovery') ?? podSpec.containers[0]!;
  const root = mkdtempSync(join(tmpdir(), 'meshwright-istiod-'));
  const podName = `${deployment.metadata.name}-referee-0`;

  // The cacerts Secret where the Deployment mounts it, below the private root.
  const volume = podSpec.volumes?.find((v) => v.secret?.secretName === 'cacerts');
  const mount = container.volumeMounts?.find((m) => m.name === volume?.name);
  if (!mount) throw new Error(`${deployment.metadata.name} does not mount the cacerts Secret`);
  const caDir = join(root, mount.mountPath);
  mkdirSync(caDir, { recursive: true });
  for (const [file, pem] of Object.entries(cacerts)) writeFileSync(join(caDir, file), pem, { mode: 0o600 });

  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    const value = resolveEnv(deployment, container, podName, variable);
    if (value !== undefined) env[variable.name] = value;
  }
  Object.assign(env, {
    KUBECONFIG: kubeconfig,
    // istiod reads ./etc/cacerts from its working directory by default; the mount may be elsewhere.
    ROOT_CA_DIR: caDir,
    VALIDATION_WEBHOOK_CONFIG_NAME: '',
    INJECTION_WEBHOOK_CONFIG_NAME: '',
    PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER: 'false',
  });

  const [http, grpc, secureGrpc, monitoring, ctrlz, https] = await freePorts(6) as [number, number, number, number, number, number];
  const ports = { http, grpc, secureGrpc, monitoring, ctrlz, https };
  const args = [
    ...(container.args ?? []).filter((a) => !/^--(monitoringAddr|httpAddr|grpcAddr|secureGRPCAddr|httpsAddr|ctrlz_port)=/.test(a)),
    `--monitoringAddr=127.0.0.1:${ports.monitoring}`, `--httpAddr=127.0.0.1:${ports.http}`, `--grpcAddr=127.0.0.1:${ports.grpc}`,
    `--secureGRPCAddr=127.0.0.1:${ports.secureGrpc}`, `--httpsAddr=127.0.0.1:${ports.https}`, `--ctrlz_port=${ports.ctrlz}`, '--ctrlz_address=127.0.0.1',
  ];
  const logFile = join(root, 'istiod.log');
  const log = createWriteStream(logFile);
  // Only what the container would see: no inherited environment apart from PATH and HOME.
  const child = spawn(binary, args, { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: root, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  // Both streams into one file, which is closed (and flushed) once the process and its streams are done.
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | string>((resolveExit) => child.once('close', (code, signal) => {
    log.end(() => resolveExit(code ?? signal ?? 'unknown'));
  }));
  return {
    process: child, root, logFile, ports, env, args,
    log: () => readFileSync(logFile, 'utf8'),
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(-child.pid!, 'SIGTERM');
      const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Protobuf: a length-delimited field. */
function protoString(field: number, value: string): Buffer {
  const bytes = Buffer.from(value);
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** The strings of a protobuf message's length-delimited field `field` (varint fields skipped). */
function protoStrings(message: Buffer, field: number): string[] {
  const out: string[] = [];
  let i = 0;
  const readVarint = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = message[i++]!;
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
    }
  };
  while (i < message.length) {
    const key = readVarint();
    const wire = key & 7;
    if (wire === 0) readVarint();
    else if (wire === 2) {
      const length = readVarint();
      if (key >>> 3 === field) out.push(message.subarray(i, i + length).toString('utf8'));
      i += length;
    } else throw new Error(`unexpected protobuf wire type ${wire}`);
  }
  return out;
}

/**
 * Sends a CSR to istiod's CA as istio-agent does: gRPC `istio.v1.auth.IstioCertificateService/CreateCertificate`
 * on the secure gRPC port, over TLS verified against `rootPem` for `serverName`, authenticated with
 * a ServiceAccount token of audience istio-ca. Returns the certificate chain istiod answers with.
 */
export async function requestCertificate(port: number, rootPem: string, serverName: string, token: string, csrPem: string): Promise<string[]> {
  const session = connect(`https://127.0.0.1:${port}`, { ca: rootPem, servername: serverName });
  try {
    const body = protoString(1, csrPem);
    const frame = Buffer.concat([Buffer.from([0]), Buffer.alloc(4), body]);
    frame.writeUInt32BE(body.length, 1);
    const stream = session.request({
      ':method': 'POST', ':path': '/istio.v1.auth.IstioCertificateService/CreateCertificate',
      'content-type': 'application/grpc', te: 'trailers', authorization: `Bearer ${token}`,
    });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let message: string | undefined;
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('trailers', (t) => {
      status = String(t['grpc-status']);
      message = t['grpc-message'] === undefined ? undefined : decodeURIComponent(String(t['grpc-message']));
    });
    stream.on('response', (h) => {
      if (h['grpc-status'] !== undefined) {
        status = String(h['grpc-status']);
        message = h['grpc-message'] === undefined ? undefined : decodeURIComponent(String(h['grpc-message']));
      }
    });
    await new Promise<void>((resolveEnd, reject) => {
      stream.on('end', resolveEnd);
      stream.on('error', reject);
      session.on('error', reject);
      stream.end(frame);
    });
    if (status !== '0') throw new Error(`CreateCertificate: grpc-status ${status}: ${message}`);
    const data = Buffer.concat(chunks);
    return protoStrings(data.subarray(5, 5 + data.readUInt32BE(1)), 1);
  } finally {
    session.close();
  }
}

/**
 * Checks that `chain` (leaf first) is a chain of signatures ending at `rootPem` — the last
 * certificate either is the root or is issued by it. Throws saying where it breaks.
 */
export function verifyChainToRoot(chain: string[], rootPem: string): void {
  const certs = chain.map((pem) => new X509Certificate(pem));
  const root = new X509Certificate(rootPem);
  if (certs.length === 0) throw new Error('empty chain');
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i]!.checkIssued(certs[i + 1]!) || !certs[i]!.verify(certs[i + 1]!.publicKey)) throw new Error(`certificate ${i} (${certs[i]!.subject}) is not signed by certificate ${i + 1} (${certs[i + 1]!.subject})`);
  }
  const last = certs[certs.length - 1]!;
  if (last.fingerprint256 === root.fingerprint256) return;
  if (!last.checkIssued(root) || !last.verify(root.publicKey)) throw new Error(`the chain ends at ${last.subject}, not issued by the root ${root.subject}`);
}

/** A CSR as istio-agent makes one (the SAN is istiod's to decide from the caller's token). */
export function makeCsr(): string {
  const result = spawnSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', '/O=meshwright-referee'], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl req failed: ${result.stderr}`);
  return result.stdout;
}
