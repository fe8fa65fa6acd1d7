/**
 * The webhook benchmark's baseline: a mutating webhook that admits every pod unchanged, served the
 * way the operator serves its own — a separate Node process, HTTPS with an ECDSA P-256 certificate
 * from the same webhook CA code, the AdmissionReview read and parsed — so the difference between the
 * two is what the operator's admission does (cache look-ups, injection, the patch), nothing else.
 *
 * Run as a child: `node --import tsx noop-webhook.ts <port>`; reads `{certificatePem, privateKeyPem}`
 * as JSON on stdin, prints `{"port":N}` once it listens.
 */
import { createServer } from 'node:https';
import { KEEP_ALIVE_TIMEOUT_MS } from '../../operator/injection/server.ts';

/** Reads all of stdin. */
async function stdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const port = Number(process.argv[2] ?? 0);
const certificate = JSON.parse(await stdin()) as { certificatePem: string; privateKeyPem: string };
const server = createServer({ cert: certificate.certificatePem, key: certificate.privateKeyPem }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request?: { uid?: string } };
    const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request?.uid ?? '', allowed: true } });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
});
// As the operator's server: idle connections are the API server's to close (a close racing its next request fails a pod).
server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
