/**
 * The operator's HTTP endpoint for Prometheus and the kubelet: `/metrics`, `/healthz` (liveness)
 * and `/readyz` (readiness). Plain text answers, as Kubernetes components give them, so
 * `curl` and probe failure messages say what is wrong.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { OperatorMetrics } from './metrics.ts';

/** The answer of a readiness check: ready, or not with the reasons why. */
export interface ReadinessStatus {
  ready: boolean;
  reasons: string[];
}

/** Settings of {@link startOperatorHttpServer}. */
export interface OperatorHttpServerOptions {
  /** `host:port`, `:port` (all interfaces) or `[v6]:port`; port 0 picks a free port. */
  address: string;
  metrics: OperatorMetrics;
  /** Asked on every `/readyz`; ready e.g. once the caches have synced. A throw counts as not ready. */
  readiness: () => ReadinessStatus | Promise<ReadinessStatus>;
  log?: Logger;
}

/** A running {@link startOperatorHttpServer}. */
export interface OperatorHttpServer {
  /** The port actually bound (useful with port 0). */
  port: number;
  /** The host bound, as given (empty for all interfaces). */
  host: string;
  /** Stops listening and closes open connections (including idle keep-alive ones). */
  close(): Promise<void>;
}

/** Splits a listen address into host and port; throws a readable error on anything else. */
export function parseListenAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(address.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || !(port >= 0 && port <= 65535)) {
    throw new Error(`invalid listen address ${JSON.stringify(address)}: expected host:port, :port or [ipv6]:port with a port from 0 to 65535`);
  }
  return { host: match[1] ?? match[2] ?? '', port };
}

function send(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function reasonsText(reasons: string[], fallback: string): string {
  return (reasons.length > 0 ? reasons : [fallback]).map((r) => `${r}\n`).join('');
}

/** Starts the server and resolves once it listens. */
export async function startOperatorHttpServer(options: OperatorHttpServerOptions): Promise<OperatorHttpServer> {
  const { host, port } = parseListenAddress(options.address);
  const { metrics, readiness, log } = options;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const known = path === '/metrics' || path === '/healthz' || path === '/readyz';
    if (!known) return send(res, 404, `not found: ${path}\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n', undefined, { Allow: 'GET, HEAD' });
    switch (path) {
      case '/metrics':
        return send(res, 200, await metrics.render(), metrics.contentType);
      case '/healthz':
        // Alive whenever it answers at all: that is the event-loop check (a blocked loop cannot
        // answer, and the kubelet's probe times out). What else can go wrong (a cache that cannot
        // list, a blocked election) is for /readyz: a restart would not fix it.
        return send(res, 200, 'ok\n');
      case '/readyz': {
        let status: ReadinessStatus;
        try {
          status = await readiness();
        } catch (error) {
          status = { ready: false, reasons: [`readiness check failed: ${error instanceof Error ? error.message : String(error)}`] };
        }
        return status.ready ? send(res, 200, 'ok\n') : send(res, 503, reasonsText(status.reasons, 'not ready'));
      }
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log?.error({ err: error, path: req.url }, 'operator HTTP request failed');
      if (!res.headersSent) send(res, 500, `internal error: ${error instanceof Error ? error.message : String(error)}\n`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, ...(host ? { host } : {}) }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  log?.info({ address: `${host}:${bound}` }, 'serving /metrics, /healthz and /readyz');
  let closing: Promise<void> | undefined;
  return {
    port: bound,
    host,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
