/**
 * One webhook attempt: POST the body to the URL and read at most `maxResponseBytes` of the
 * answer, within `timeoutMs` for the whole exchange. Redirects are never followed (a 3xx is a
 * failed attempt). The host is resolved here, every address is checked against the policy, and
 * the connection goes to the checked address (the check and the connect use one lookup, so a
 * DNS answer cannot change between them).
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net, { type LookupFunction } from 'node:net';
import type { AddressPolicy } from './address-policy.js';
import { WebhookDeliveryError } from './errors.js';

/** Resolves a host to its addresses (dns.lookup with `all: true` by default; tests inject one). */
export type Resolver = (host: string) => Promise<Array<{ address: string; family: number }>>;

export const systemResolver: Resolver = (host) => dns.promises.lookup(host, { all: true, verbatim: true });

export interface SendOptions {
  policy: AddressPolicy;
  timeoutMs: number;
  maxResponseBytes: number;
  resolver?: Resolver;
}

export interface SendOutcome {
  status: number;
  ms: number;
  /** The first bytes of the answer, as text (at most `maxResponseBytes`). */
  body: string;
}

/**
 * Send one attempt. Resolves on a 2xx; throws WebhookUrlRefusedError (permanent) when the URL or
 * an address is refused, and WebhookDeliveryError otherwise (retryable except on 410).
 */
export async function sendWebhook(urlText: string, headers: Record<string, string>, body: Buffer, options: SendOptions): Promise<SendOutcome> {
  const url = options.policy.checkUrl(urlText);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const resolver = options.resolver ?? systemResolver;
  let address: string;
  let family: number;
  if (net.isIP(host)) {
    options.policy.checkAddress(host, host);
    address = host;
    family = net.isIP(host);
  } else {
    let found: Array<{ address: string; family: number }>;
    try {
      found = await resolver(host);
    } catch (err) {
      throw new WebhookDeliveryError(`could not resolve ${host}: ${(err as Error).message}`, { code: 'webhook-dns', cause: err });
    }
    if (found.length === 0) throw new WebhookDeliveryError(`${host} has no address`, { code: 'webhook-dns' });
    // Every address must pass: a name with one internal address among public ones is refused.
    for (const a of found) options.policy.checkAddress(a.address, host);
    ({ address, family } = found[0]!);
  }
  // The connection uses the checked address; TLS still verifies the certificate for `host`.
  const lookup: LookupFunction = (_hostname, opts, callback) => {
    if ((opts as { all?: boolean }).all) (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };

  const started = Date.now();
  return new Promise<SendOutcome>((resolve, reject) => {
    const transport = url.protocol === 'https:' ? https : http;
    let settled = false;
    const finish = (err: Error | null, outcome?: SendOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(outcome!);
    };
    const req = transport.request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(body.length), 'user-agent': 'facefleet-webhooks' },
        lookup,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          const ms = Date.now() - started;
          if (status >= 200 && status < 300) return finish(null, { status, ms, body: text });
          const what = status >= 300 && status < 400 ? `a redirect (${status}), which is not followed` : `${status}`;
          finish(new WebhookDeliveryError(`the receiver answered ${what}`, { code: 'webhook-status', status }));
        };
        res.on('data', (chunk: Buffer) => {
          const room = options.maxResponseBytes - size;
          if (room > 0) chunks.push(chunk.subarray(0, room));
          size += chunk.length;
          // Enough read: the status is known and the rest is not needed.
          if (size >= options.maxResponseBytes) {
            done();
            res.destroy();
          }
        });
        res.on('end', done);
        res.on('error', (err) => finish(new WebhookDeliveryError(`the answer broke off: ${err.message}`, { code: 'webhook-network', cause: err })));
      },
    );
    const timer = setTimeout(() => {
      finish(new WebhookDeliveryError(`no answer within ${options.timeoutMs} ms`, { code: 'webhook-timeout' }));
      req.destroy();
    }, options.timeoutMs);
    req.on('error', (err) => finish(new WebhookDeliveryError(`could not deliver: ${err.message}`, { code: 'webhook-network', cause: err })));
    req.end(body);
  });
}
