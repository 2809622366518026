/**
 * Request builders for web tests: hand-made multipart bodies (so malformed ones can be sent),
 * fetch-based uploads, and raw sockets for what fetch cannot do (trickling headers).
 */
import net from 'node:net';

export interface Part {
  name: string;
  /** Present for a file part. */
  filename?: string;
  contentType?: string;
  data: Buffer | string;
  /** Replaces the generated part headers entirely (for malformed parts). */
  rawHeaders?: string;
}

export const BOUNDARY = '----facefleet-test-boundary-7MA4YWxkTrZu0gW';

/** A multipart/form-data body from parts; `close: false` leaves off the final boundary. */
export function multipartBody(parts: Part[], options: { boundary?: string; close?: boolean } = {}): { body: Buffer; contentType: string } {
  const boundary = options.boundary ?? BOUNDARY;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\n`, 'latin1'));
    let headers = part.rawHeaders;
    if (headers === undefined) {
      const filename = part.filename === undefined ? '' : `; filename="${part.filename}"`;
      headers = `Content-Disposition: form-data; name="${part.name}"${filename}\r\n`;
      if (part.contentType || part.filename !== undefined) headers += `Content-Type: ${part.contentType ?? 'application/octet-stream'}\r\n`;
    }
    // Header text is UTF-8 on the wire, as browsers and fetch send it.
    chunks.push(Buffer.from(`${headers}\r\n`, 'utf8'));
    chunks.push(typeof part.data === 'string' ? Buffer.from(part.data, 'utf8') : part.data);
    chunks.push(Buffer.from('\r\n', 'latin1'));
  }
  if (options.close !== false) chunks.push(Buffer.from(`--${boundary}--\r\n`, 'latin1'));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export interface SimpleResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON when the body is JSON (problem+json included), else undefined. */
  json: any;
}

async function settle(res: Response): Promise<SimpleResponse> {
  const text = await res.text();
  let json: unknown;
  if (/json/.test(res.headers.get('content-type') ?? '')) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** fetch and read the whole body. */
export async function request(url: string, init: RequestInit = {}): Promise<SimpleResponse> {
  return settle(await fetch(url, init));
}

/** POST a hand-built multipart body. */
export async function postMultipart(url: string, parts: Part[], headers: Record<string, string> = {}): Promise<SimpleResponse> {
  const { body, contentType } = multipartBody(parts);
  return request(url, { method: 'POST', body, headers: { 'content-type': contentType, ...headers } });
}

/** POST one file (and optional fields) the way a browser would, with fetch's FormData. */
export async function uploadFile(
  url: string,
  file: { field?: string; data: Buffer; filename?: string; type?: string },
  fields: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<SimpleResponse> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append(file.field ?? 'image', new Blob([file.data], { type: file.type ?? 'image/jpeg' }), file.filename ?? 'face.jpg');
  return request(url, { method: 'POST', body: form, headers });
}

/** POST JSON. */
export async function postJson(url: string, value: unknown, headers: Record<string, string> = {}): Promise<SimpleResponse> {
  return request(url, { method: 'POST', body: JSON.stringify(value), headers: { 'content-type': 'application/json', ...headers } });
}

/**
 * Open a raw connection, send `first`, then `repeat` every `intervalMs` forever (a slow client
 * that never finishes its headers), and resolve with everything the server sent once it closes
 * the connection (or after `maxMs`).
 */
export function trickle(url: string, first: string, repeat: string, intervalMs: number, maxMs: number): Promise<{ received: string; closedByServer: boolean; ms: number }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(Number(port), hostname);
    let received = '';
    let timer: NodeJS.Timeout | undefined;
    const finish = (closedByServer: boolean) => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ received, closedByServer, ms: Date.now() - started });
    };
    const giveUp = setTimeout(() => finish(false), maxMs);
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('close', () => finish(true));
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      socket.write(first);
      timer = setInterval(() => {
        if (!socket.destroyed) socket.write(repeat);
      }, intervalMs);
    });
  });
}
