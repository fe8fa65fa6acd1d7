/**
 * The injection webhook's HTTPS server: every replica runs one on its own port (the leader and the
 * standbys alike, so a Service spreads admissions over all of them and a failover loses none).
 * It moves bytes and counts; what to answer is admission.ts's, from caches only.
 *
 * The serving certificate is replaced in place ({@link WebhookServer.setCertificate}, Node's
 * `setSecureContext`): new TLS connections get the new one, open ones finish on the old one —
 * which the API server still trusts, since the old CA leaves the bundle only after the switch.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { parseListenAddress } from '../runtime/http-server.ts';
import { answerAdmission, INJECT_PATH_PREFIX, type AdmissionSources } from './admission.ts';
import type { InjectionMetrics } from './metrics.ts';

/**
 * Waits before answering again when the caches lag (a namespace created a moment ago, an
 * installation this replica has not seen yet): the API server gave us its whole timeout (seconds),
 * and a denial for a few milliseconds of lag would fail a pod for nothing.
 */
const CACHE_LAG_WAITS_MS = [25, 50, 100, 200, 400];
const CACHE_LAG_REASONS: ReadonlySet<string> = new Set(['NamespaceUnknown', 'InstallationUnknown']);

/** How long close() lets admissions in flight finish before it cuts their connections. */
const CLOSE_GRACE_MS = 5_000;

/**
 * How long an idle keep-alive connection stays open. The API server's webhook client (Go's
 * transport with client-go's defaults) drops its idle connections after 90 s; Node's own default
 * (5 s) closes first, and a request the API server sends on a connection in the instant Node
 * closes it meets a reset, failing a pod create ("connection reset by peer"). Outliving the
 * client's timeout leaves the closing to the client, which never races itself.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 120_000;

/** The API server sends at most 3 MiB objects; anything far beyond that is not an AdmissionReview. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** A certificate and key, PEM. */
export interface ServingCertificatePem {
  certificatePem: string;
  privateKeyPem: string;
}

/** Settings of {@link startWebhookServer}. */
export interface WebhookServerOptions {
  /** `host:port`, `:port` or `[v6]:port`; port 0 picks a free one. */
  address: string;
  certificate: ServingCertificatePem;
  sources: AdmissionSources;
  log: Logger;
  metrics?: InjectionMetrics;
}

/** A running webhook server. */
export interface WebhookServer {
  /** The port bound. */
  port: number;
  /** Serves new connections with `certificate` from now on (no restart). */
  setCertificate(certificate: ServingCertificatePem): void;
  /** Stops listening, lets admissions in flight finish (up to a few seconds), and closes every connection. */
  close(): Promise<void>;
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLarge(`the request body exceeds ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Starts the server and resolves once it listens. */
export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const { host, port } = parseListenAddress(options.address);
  const { log, metrics, sources } = options;
  const tls = (certificate: ServingCertificatePem) => ({ cert: certificate.certificatePem, key: certificate.privateKeyPem });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const path = new URL(req.url ?? '/', 'https://localhost').pathname;
    if (!path.startsWith(INJECT_PATH_PREFIX)) return send(res, 404, 'text/plain; charset=utf-8', `not found: ${path}; the injection webhook serves ${INJECT_PATH_PREFIX}<installation>\n`);
    if (req.method !== 'POST') return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed: the API server POSTs AdmissionReviews\n', { Allow: 'POST' });
    let body: string;
    try {
      body = await readBody(req);
    } catch (error) {
      if (error instanceof BodyTooLarge) return send(res, 413, 'text/plain; charset=utf-8', `${error.message}\n`);
      throw error;
    }
    let answer = answerAdmission(path, body, sources);
    for (const wait of CACHE_LAG_WAITS_MS) {
      if (!answer.reason || !CACHE_LAG_REASONS.has(answer.reason)) break;
      await new Promise((resolve) => setTimeout(resolve, wait));
      answer = answerAdmission(path, body, sources);
    }
    send(res, answer.httpStatus, answer.contentType, answer.body);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    metrics?.observeAdmission(answer.installation ?? '', answer.outcome, seconds);
    const fields = { installation: answer.installation, outcome: answer.outcome, reason: answer.reason, message: answer.message, ms: Math.round(seconds * 1e6) / 1e3 };
    if (answer.outcome === 'denied' || answer.outcome === 'invalid') log.info(fields, 'admission refused');
    else log.debug(fields, 'admission');
  }

  const server: Server = createServer(tls(options.certificate), (req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error({ err: error instanceof Error ? error.message : String(error), path: req.url }, 'injection webhook request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `internal error: ${error instanceof Error ? error.message : String(error)}\n`);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  // A client that fails the handshake (an untrusted certificate, a port scan) is no server error.
  server.on('tlsClientError', (error) => log.debug({ err: error.message }, 'TLS handshake with a webhook client failed'));
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => reject(new Error(`the injection webhook cannot listen on ${options.address} (--webhook-port): ${error.message}; choose a free port, or 0 to turn the webhook off`));
    server.once('error', failed);
    server.listen({ port, ...(host ? { host } : {}) }, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  log.info({ address: `${host}:${bound}` }, `serving the injection webhook (${INJECT_PATH_PREFIX}<installation>) over HTTPS`);
  let closing: Promise<void> | undefined;
  return {
    port: bound,
    setCertificate(certificate) {
      server.setSecureContext(tls(certificate));
    },
    close() {
      // Admissions in flight are answered (a reset would fail a pod of an enrolled namespace);
      // idle keep-alive connections close at once, and whatever still hangs after the grace goes.
      closing ??= new Promise<void>((resolve, reject) => {
        const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        server.close((error) => {
          clearTimeout(force);
          if (error) reject(error);
          else resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
