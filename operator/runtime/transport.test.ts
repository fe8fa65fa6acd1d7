import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createSelfSigned, issueCertificate } from '../pki/x509.ts';
import { ConnectionPool } from './transport.ts';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** A local server that records which connection served each request. */
async function serve(handler: Handler, server: Server = createServer()): Promise<{ url: string; connections: Set<Socket>; requestsPerSocket: Map<Socket, number>; close(): Promise<void> }> {
  const connections = new Set<Socket>();
  const requestsPerSocket = new Map<Socket, number>();
  server.on('connection', (socket: Socket) => connections.add(socket));
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    requestsPerSocket.set(request.socket, (requestsPerSocket.get(request.socket) ?? 0) + 1);
    handler(request, response);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const scheme = 'cert' in server ? 'https' : 'http';
  return {
    url: `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections,
    requestsPerSocket,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

const echo: Handler = (request, response) => {
  let body = '';
  request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
  request.on('end', () => {
    response.setHeader('Content-Type', 'application/json');
    response.end(JSON.stringify({ method: request.method, url: request.url, contentType: request.headers['content-type'], agent: request.headers['user-agent'], body }));
  });
};

test('a request sends its method, headers and body (multi-byte text counted in bytes) and reads the whole response', async () => {
  const server = await serve(echo);
  const pool = new ConnectionPool(server.url, {});
  try {
    const body = JSON.stringify({ note: 'café → ü' });
    const response = await pool.send({ method: 'PATCH', url: `${server.url}/apis/x?fieldManager=m`, headers: { 'Content-Type': 'application/merge-patch+json', 'User-Agent': 'meshwright-test' }, body });
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse(response.text), { method: 'PATCH', url: '/apis/x?fieldManager=m', contentType: 'application/merge-patch+json', agent: 'meshwright-test', body });
  } finally {
    pool.close();
    await server.close();
  }
});

test('requests one after another reuse one kept-alive connection', async () => {
  const server = await serve(echo);
  const pool = new ConnectionPool(server.url, {});
  try {
    for (let i = 0; i < 5; i++) await pool.send({ method: 'GET', url: `${server.url}/${i}`, headers: {} });
    assert.equal(server.connections.size, 1);
    assert.deepEqual([...server.requestsPerSocket.values()], [5]);
  } finally {
    pool.close();
    await server.close();
  }
});

test('the pool opens at most its limit of connections; requests beyond it wait for one', async () => {
  const held: ServerResponse[] = [];
  const server = await serve((_request, response) => void held.push(response));
  const pool = new ConnectionPool(server.url, {}, 2);
  try {
    const pending = Array.from({ length: 5 }, (_, i) => pool.send({ method: 'GET', url: `${server.url}/${i}`, headers: {} }));
    while (held.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(held.length, 2, 'two in flight, three waiting');
    assert.equal(server.connections.size, 2);
    while (held.length < 5 || held.some((r) => !r.writableEnded)) {
      for (const response of held) if (!response.writableEnded) response.end('{}');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.deepEqual((await Promise.all(pending)).map((r) => r.status), [200, 200, 200, 200, 200]);
    assert.equal(server.connections.size, 2, 'the waiting requests went over the same two connections');
  } finally {
    pool.close();
    await server.close();
  }
});

test('a stream yields the body as it arrives and stops when its signal aborts', async () => {
  let open: ServerResponse | undefined;
  const server = await serve((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.write('{"type":"ADDED"}\n');
    open = response;
  });
  const pool = new ConnectionPool(server.url, {});
  const abort = new AbortController();
  try {
    const stream = await pool.stream({ method: 'GET', url: `${server.url}/watch`, headers: {}, signal: abort.signal });
    assert.equal(stream.status, 200);
    const seen: string[] = [];
    const reading = (async () => {
      for await (const chunk of stream.body) {
        seen.push(Buffer.from(chunk).toString('utf8'));
        if (seen.length === 2) abort.abort();
      }
    })();
    while (!open || seen.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    open.write('{"type":"MODIFIED"}\n');
    await assert.rejects(reading, /aborted/i);
    assert.deepEqual(seen, ['{"type":"ADDED"}\n', '{"type":"MODIFIED"}\n']);
  } finally {
    pool.close();
    await server.close();
  }
});

test('an error response is returned with its status and body, for the client to turn into an API error', async () => {
  const server = await serve((_request, response) => {
    response.writeHead(422, 'Unprocessable Entity', { 'Content-Type': 'application/json' });
    response.end('{"kind":"Status","reason":"Invalid"}');
  });
  const pool = new ConnectionPool(server.url, {});
  try {
    const response = await pool.send({ method: 'POST', url: `${server.url}/x`, headers: {}, body: '{}' });
    assert.deepEqual(response, { status: 422, statusText: 'Unprocessable Entity', text: '{"kind":"Status","reason":"Invalid"}' });
  } finally {
    pool.close();
    await server.close();
  }
});

test('a refused connection names the request and carries the system error as its cause', async () => {
  const server = await serve(echo);
  const url = server.url;
  await server.close();
  const pool = new ConnectionPool(url, {});
  try {
    await assert.rejects(pool.send({ method: 'GET', url: `${url}/api`, headers: {} }), (error: Error & { cause?: { code?: string } }) => {
      assert.match(error.message, new RegExp(`^GET ${url}/api: connect ECONNREFUSED`));
      assert.equal(error.cause?.code, 'ECONNREFUSED');
      return true;
    });
  } finally {
    pool.close();
  }
});

test('TLS: the server is trusted through the given CA only; another CA is refused with the TLS error code as cause', async () => {
  const now = Date.now();
  const validity = { notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000), keyAlgorithm: 'ECDSAP256' as const };
  const ca = await createSelfSigned({ subject: 'CN=test-ca', isCA: true, ...validity });
  const other = await createSelfSigned({ subject: 'CN=other-ca', isCA: true, ...validity });
  const leaf = await issueCertificate({ subject: 'CN=127.0.0.1', ipAddresses: ['127.0.0.1'], ...validity }, ca);
  const server = await serve(echo, createTlsServer({ cert: leaf.certificatePem, key: leaf.privateKeyPem }) as unknown as Server);
  const trusting = new ConnectionPool(server.url, { ca: ca.certificatePem });
  const distrusting = new ConnectionPool(server.url, { ca: other.certificatePem });
  try {
    assert.equal((await trusting.send({ method: 'GET', url: `${server.url}/version`, headers: {} })).status, 200);
    await assert.rejects(distrusting.send({ method: 'GET', url: `${server.url}/version`, headers: {} }), (error: Error & { cause?: { code?: string } }) => {
      assert.match(error.cause?.code ?? '', /UNABLE_TO_VERIFY|SELF_SIGNED|CERT/);
      return true;
    });
  } finally {
    trusting.close();
    distrusting.close();
    await server.close();
  }
});

test('a silent connection fails its request, and a silent stream its body, instead of hanging', async () => {
  const held: ServerResponse[] = [];
  const server = await serve((request, response) => {
    held.push(response);
    if (request.url === '/watch') {
      response.writeHead(200);
      response.write('{"type":"ADDED"}\n');
    }
  });
  const pool = new ConnectionPool(server.url, {}, undefined, { requestMs: 200, streamMs: 300 });
  try {
    await assert.rejects(pool.send({ method: 'GET', url: `${server.url}/api`, headers: {} }), (error: Error & { cause?: { code?: string } }) => {
      assert.match(error.message, /^GET http:\/\/127\.0\.0\.1:\d+\/api: no data from the API server for 0\.2 s$/);
      assert.equal(error.cause?.code, 'ETIMEDOUT');
      return true;
    });
    const stream = await pool.stream({ method: 'GET', url: `${server.url}/watch`, headers: {} });
    const chunks: string[] = [];
    await assert.rejects((async () => {
      for await (const chunk of stream.body) chunks.push(Buffer.from(chunk).toString('utf8'));
    })(), /no data from the API server for 0\.3 s/);
    assert.deepEqual(chunks, ['{"type":"ADDED"}\n']);
  } finally {
    pool.close();
    await server.close();
  }
});
