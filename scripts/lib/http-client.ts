/**
 * A light HTTP client for the load benchmarks: keep-alive sockets and pre-built multipart
 * bodies, so the load generator (which shares the machine with the system under test) spends
 * as little CPU per request as it can. `fetch` costs noticeably more per request.
 */
import http from 'node:http';

/** One answer: status, body text and how long it took, ms. */
export interface Answer {
  status: number;
  body: string;
  ms: number;
  headers: http.IncomingHttpHeaders;
}

/** A multipart/form-data body with one file field, built once and sent many times. */
export interface Multipart {
  body: Buffer;
  contentType: string;
}

export function multipart(field: string, filename: string, data: Buffer, type = 'image/jpeg'): Multipart {
  const boundary = `----ffbench${Math.random().toString(16).slice(2)}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { body: Buffer.concat([head, data, tail]), contentType: `multipart/form-data; boundary=${boundary}` };
}

export interface Client {
  request(method: string, path: string, body?: { data: Buffer; contentType: string }, timeoutMs?: number): Promise<Answer>;
  postJson(path: string, value: unknown): Promise<Answer>;
  getJson<T>(path: string): Promise<{ status: number; value: T }>;
  close(): void;
}

export function createClient(baseUrl: string, maxSockets = 256): Client {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets, keepAliveMsecs: 10_000 });
  function request(method: string, path: string, body?: { data: Buffer; contentType: string }, timeoutMs = 120_000): Promise<Answer> {
    const t0 = performance.now();
    return new Promise<Answer>((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          method,
          path,
          agent,
          headers: body ? { 'content-type': body.contentType, 'content-length': body.data.length } : {},
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - t0, headers: res.headers }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body?.data);
    });
  }
  return {
    request,
    postJson: (path, value) => request('POST', path, { data: Buffer.from(JSON.stringify(value)), contentType: 'application/json' }),
    async getJson<T>(path: string) {
      const a = await request('GET', path);
      return { status: a.status, value: (a.body ? JSON.parse(a.body) : undefined) as T };
    },
    close: () => agent.destroy(),
  };
}

/** The q-th percentile (0..100) of `xs`, nearest rank; NaN when empty. */
export function percentile(xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((q / 100) * s.length) - 1))];
}

/** Run `task(i)` for i in 0..n-1 with at most `concurrency` at once. */
export async function runLanes(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, lane));
}
