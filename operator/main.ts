/**
 * The operator process: caches, leader election (only the leader reconciles; a standby keeps its
 * caches warm), `/metrics`, `/healthz` and `/readyz`, Kubernetes Events, graceful shutdown.
 * Runs in a cluster (service account) or outside one (kubeconfig), configured by flags or
 * environment variables (flags win).
 */
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { MeshDistribution } from './distributions/distribution.ts';
import { Operator } from './operator.ts';
import { EventRecorder } from './runtime/events.ts';
import { startOperatorHttpServer } from './runtime/http-server.ts';
import { KubeClient } from './runtime/kube.ts';
import { LeaderElector } from './runtime/leader-election.ts';
import { createLogger, type LoggerOptions } from './runtime/logger.ts';
import { OperatorMetrics } from './runtime/metrics.ts';
import { operatorReadiness } from './runtime/readiness.ts';
import { keepSpareKeyPairs, RefillGate, refillSpareKeyPairsWhen, spareKeyPairStats } from './pki/x509.ts';
import { keyPairsForNewAuthority } from './pki/authority.ts';
import { withSpecDefaults } from './api/defaults.ts';
import { API_VERSION, KIND, type DefaultedMeshInstallation } from './api/meshinstallation.ts';
import { systemClock } from './runtime/clock.ts';
import { InjectionWebhook, webhookSettingsFrom, type WebhookSettings } from './injection/webhook.ts';

/** Settings of {@link runOperator}. */
export interface RunOptions {
  distributions: readonly MeshDistribution[];
  /** `host:port` of the metrics and health endpoints. */
  metricsAddress: string;
  leaderElection: boolean;
  leaderElectionNamespace: string;
  leaderElectionName: string;
  identity: string;
  logLevel: NonNullable<LoggerOptions['level']>;
  installationSelector?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** The injection webhook: its port (0: none), where the API server reaches it, its CA's lifetimes. */
  webhook: WebhookSettings;
  /** Called once the HTTP server listens (tests read the port). */
  onListening?: (port: number) => void;
}

const serviceAccountNamespaceFile = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

function parseLogLevel(level: string): RunOptions['logLevel'] {
  if (!(logLevels as readonly string[]).includes(level)) throw new Error(`--log-level must be one of ${logLevels.join(', ')}; got "${level}"`);
  return level as RunOptions['logLevel'];
}

/** Reads flags (`--metrics-address=...`) and their environment variables (`MESHWRIGHT_METRICS_ADDRESS`). */
export function optionsFromArgs(argv: string[], env: NodeJS.ProcessEnv, distributions: readonly MeshDistribution[]): RunOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      'metrics-address': { type: 'string' },
      'leader-elect': { type: 'string' },
      'leader-election-namespace': { type: 'string' },
      'leader-election-name': { type: 'string' },
      identity: { type: 'string' },
      'log-level': { type: 'string' },
      'installation-selector': { type: 'string' },
      'webhook-port': { type: 'string' },
      'webhook-url': { type: 'string' },
      'webhook-service': { type: 'string' },
    },
  });
  let inClusterNamespace: string | undefined;
  try {
    inClusterNamespace = readFileSync(serviceAccountNamespaceFile, 'utf8').trim();
  } catch { /* out of cluster */ }
  return {
    distributions,
    metricsAddress: values['metrics-address'] ?? env.MESHWRIGHT_METRICS_ADDRESS ?? ':8080',
    leaderElection: (values['leader-elect'] ?? env.MESHWRIGHT_LEADER_ELECT ?? 'true') !== 'false',
    leaderElectionNamespace: values['leader-election-namespace'] ?? env.MESHWRIGHT_LEADER_ELECTION_NAMESPACE ?? inClusterNamespace ?? 'meshwright-system',
    leaderElectionName: values['leader-election-name'] ?? env.MESHWRIGHT_LEADER_ELECTION_NAME ?? 'meshwright-operator',
    identity: values.identity ?? env.MESHWRIGHT_IDENTITY ?? env.POD_NAME ?? `${hostname()}-${process.pid}`,
    logLevel: parseLogLevel(values['log-level'] ?? env.MESHWRIGHT_LOG_LEVEL ?? 'info'),
    installationSelector: values['installation-selector'] ?? env.MESHWRIGHT_INSTALLATION_SELECTOR,
    webhook: webhookSettingsFrom({ port: values['webhook-port'], url: values['webhook-url'], service: values['webhook-service'] }, env),
  };
}

/**
 * The spare key pairs to keep: what creating one installation's CA takes, for the most demanding
 * mesh this build serves (each mesh's CA profile, asked with the spec's defaults).
 */
export function spareKeyPairTargets(distributions: readonly MeshDistribution[]): ReturnType<typeof keyPairsForNewAuthority> {
  const profiles = distributions.flatMap((d) => {
    if (!d.certificateAuthority) return [];
    const sample = { apiVersion: API_VERSION, kind: KIND, metadata: { name: 'spare-key-pairs' }, spec: withSpecDefaults({ mesh: d.mesh, namespace: 'spare-key-pairs' } as never) } as DefaultedMeshInstallation;
    return [d.certificateAuthority(sample)];
  });
  return keyPairsForNewAuthority(profiles);
}

/** Runs the operator until SIGTERM/SIGINT (graceful: finish passes in flight, release the lease). */
export async function runOperator(options: RunOptions): Promise<void> {
  const log = createLogger({ level: options.logLevel, name: 'meshwright' });
  const metrics = new OperatorMetrics();
  if (options.leaderElection) metrics.setLeader(options.identity, false);
  const client = await KubeClient.forOperator();
  // Lease renewals and Events go through the same client as everything else: one connection pool,
  // our user agent (the API server's metrics and audit log attribute them to us).
  const events = new EventRecorder({ client, identity: options.identity, log });
  // A new CA then only needs signing: its key pairs are ready before the first installation
  // arrives (RSA generation was the slow part of an install), and the pairs a pass takes are made
  // again once no pass runs, so that generating them never competes with an install.
  const refills = new RefillGate(systemClock);
  refillSpareKeyPairsWhen((refill) => refills.schedule(refill));
  keepSpareKeyPairs(spareKeyPairTargets(options.distributions));
  metrics.trackSpareKeyPairs(spareKeyPairStats);
  // Every replica serves the injection webhook; the leader's passes publish its CA bundle.
  let webhook: InjectionWebhook | undefined;
  const operator = new Operator({
    client,
    distributions: options.distributions,
    log,
    installationSelector: options.installationSelector,
    webhookEndpoint: () => webhook?.endpoint(),
    aroundPass: (pass) => refills.busyWhile(pass),
    hooks: {
      onReconciled: (outcome, seconds) => {
        metrics.observeReconcile('meshinstallation', outcome, seconds);
        if (outcome === 'transient_error' || outcome === 'terminal_error') metrics.incError('meshinstallation', outcome);
      },
      onQueueDepth: (depth) => metrics.setWorkqueueDepth('meshinstallation', depth),
      onDriftCorrected: (kind) => metrics.incDriftCorrection(kind),
      onDriftRepairTimed: (timing) => metrics.observeDriftRepair(timing),
      onPhase: (_installation, phase, seconds) => metrics.observeInstallPhase(phase, seconds),
      onManagedObjects: (installation, count) => metrics.setManagedObjects(installation, count),
      onEvent: (installation, type, reason, note) => void events.record({ regarding: installation, type, reason, action: 'Reconcile', note }),
    },
  });
  // A deleted installation's managed-objects series would otherwise stay at its last value.
  operator.installations.on((type, object) => {
    if (type === 'delete') metrics.forgetInstallation(object.metadata.name);
  });
  // Without a way for the API server to reach it (no --webhook-url or --webhook-service) a webhook would serve nobody.
  if (options.webhook.port === 0 || !options.webhook.target) {
    log.info({ webhookPort: options.webhook.port }, 'the injection webhook is off (--webhook-port=0, or neither --webhook-url nor --webhook-service given): no pod is injected by this operator');
  } else {
    webhook = new InjectionWebhook({
      settings: options.webhook, client, namespace: options.leaderElectionNamespace, log, registry: metrics.registry,
      caches: { installations: operator.installations, namespaces: operator.namespaces, owned: operator.owned, referenced: operator.referencedSecrets, distributions: options.distributions },
    });
    // A new bundle must reach every installation's webhook configurations (the pass reads it from the cache).
    let bundle: string | undefined;
    webhook.keeper.onChange(() => {
      const current = webhook?.keeper.caBundlePem();
      if (current === bundle) return;
      bundle = current;
      for (const installation of operator.installations.list()) operator.controller.enqueue(installation.metadata.name);
    });
  }
  // The lease on connections of its own: a renewal must not wait behind a pass's writes (with 32
  // of them in flight on a loaded API server, a leader missed its renew deadline and exited).
  const leaseClient = options.leaderElection ? client.separate() : undefined;
  const elector = leaseClient
    ? new LeaderElector({
      client: leaseClient,
      namespace: options.leaderElectionNamespace,
      name: options.leaderElectionName,
      identity: options.identity,
      leaseDurationMs: options.leaseDurationMs,
      renewDeadlineMs: options.renewDeadlineMs,
      retryPeriodMs: options.retryPeriodMs,
      log,
      metrics,
    })
    : undefined;
  const http = await startOperatorHttpServer({
    address: options.metricsAddress,
    metrics,
    log,
    readiness: () => {
      const status = operatorReadiness(operator.cacheStates(), elector?.health());
      // A Service must not send admissions to a replica whose webhook does not listen yet: enrolled pods fail closed.
      if (webhook && webhook.port === undefined) return { ready: false, reasons: [...status.reasons, 'the injection webhook is not serving yet (its CA Secret is being read or created)'] };
      return status;
    },
  });
  options.onListening?.(http.port);
  log.info({ identity: options.identity, metricsPort: http.port, leaderElection: options.leaderElection }, 'meshwright operator starting');
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing passes in flight');
    await operator.stop();
    await webhook?.stop();
    await elector?.release();
    await events.drain();
    await http.close();
    await client.close();
    await leaseClient?.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  // A cache that cannot list keeps this pending (readiness says which); a shutdown meanwhile ends it.
  // The webhook CA is read (or created) before any pass: a pass without its bundle would render no webhook configuration.
  await Promise.all([operator.startCaches(), webhook?.start()]).catch((error: unknown) => {
    if (!stopping) throw error;
  });
  if (stopping) return;
  if (!elector) {
    operator.controller.start();
    return;
  }
  void elector.run({
    onStartedLeading: () => {
      log.info({ identity: options.identity }, 'became leader: reconciling');
      operator.controller.start();
    },
    onStoppedLeading: () => {
      if (stopping) return;
      // A leader that lost its lease must stop writing at once; a restart rejoins as a standby.
      log.error({ identity: options.identity }, 'lost the leader lease: exiting');
      process.exit(1);
    },
  });
}

// Started as a program (not imported): run with the distributions this build ships.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { builtInDistributions } = await import('./distributions/built-in.ts');
  await runOperator(optionsFromArgs(process.argv.slice(2), process.env, builtInDistributions));
}
