/**
 * Where webhooks may go (SSRF guard). `FACEFLEET_WEBHOOK_ALLOW` is a comma-separated list of
 * - host names (`hooks.example.com`: that host only),
 * - suffixes (`.example.com` or `*.example.com`: any host under it),
 * - addresses and CIDR blocks (`127.0.0.1`, `10.1.0.0/16`, `::1`).
 * Empty (the default) turns webhooks off.
 *
 * A URL's host must match a name, a suffix, or (for an address literal) an address entry.
 * Every address the host resolves to at delivery time is then checked:
 * - link-local (`169.254.0.0/16`, `fe80::/10`) and cloud metadata (`fd00:ec2::254`) are always
 *   refused, whatever the list says;
 * - internal addresses (loopback, RFC 1918, CGNAT, unique-local, unspecified, multicast) are
 *   refused unless an address entry covers them: a public name that resolves inside the network
 *   (DNS rebinding) is refused, and loopback is reachable only when the list names it, which is
 *   how the tests reach receivers on 127.0.0.1;
 * - any other address is allowed once the host matched.
 */
import net from 'node:net';
import { WebhookUrlRefusedError, WebhooksDisabledError } from './errors.js';

export interface AddressPolicy {
  /** True when the list is empty: webhooks are off. */
  readonly disabled: boolean;
  /** Throws WebhooksDisabledError or WebhookUrlRefusedError; returns the parsed URL. */
  checkUrl(raw: string): URL;
  /** Throws WebhookUrlRefusedError unless `address` (a resolved IP) may be connected to. */
  checkAddress(address: string, host: string): void;
}

const ALWAYS_REFUSED = new net.BlockList();
ALWAYS_REFUSED.addSubnet('169.254.0.0', 16, 'ipv4');
ALWAYS_REFUSED.addSubnet('fe80::', 10, 'ipv6');
ALWAYS_REFUSED.addAddress('fd00:ec2::254', 'ipv6');

const INTERNAL = new net.BlockList();
for (const [prefix, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const) {
  INTERNAL.addSubnet(prefix, bits, 'ipv4');
}
for (const [prefix, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  INTERNAL.addSubnet(prefix, bits, 'ipv6');
}

/** `a.b.c.d` for an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), else the address as given. */
function unmap(address: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return m ? m[1]! : address;
}

function family(address: string): 'ipv4' | 'ipv6' {
  return net.isIPv4(address) ? 'ipv4' : 'ipv6';
}

/** A URL host without IPv6 brackets, lower case. */
function bareHost(url: URL): string {
  return url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
}

/** Build the policy from the configured list (see the module comment for the entry forms). */
export function createAddressPolicy(entries: readonly string[]): AddressPolicy {
  const names = new Set<string>();
  const suffixes: string[] = [];
  const allowedNets = new net.BlockList();
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    const [addr, bits] = entry.split('/');
    if (net.isIP(addr!)) {
      const f = family(addr!);
      if (bits === undefined) allowedNets.addAddress(addr!, f);
      else allowedNets.addSubnet(addr!, Number(bits), f);
    } else if (entry.startsWith('*.') || entry.startsWith('.')) {
      suffixes.push(entry.slice(entry.indexOf('.')));
    } else {
      names.add(entry);
    }
  }
  const disabled = names.size === 0 && suffixes.length === 0 && allowedNets.rules.length === 0;

  function refuse(message: string): never {
    throw new WebhookUrlRefusedError(message);
  }

  function checkAddress(address: string, host: string): void {
    const ip = unmap(address.toLowerCase());
    if (!net.isIP(ip)) refuse(`${host}: ${address} is not an IP address`);
    const f = family(ip);
    if (ALWAYS_REFUSED.check(ip, f)) refuse(`${host} resolves to ${ip}, a link-local or metadata address, which webhooks never reach`);
    if (INTERNAL.check(ip, f) && !allowedNets.check(ip, f)) {
      refuse(`${host} resolves to ${ip}, an internal address; list it in FACEFLEET_WEBHOOK_ALLOW to allow it`);
    }
  }

  return {
    disabled,
    checkAddress,
    checkUrl(raw) {
      if (disabled) throw new WebhooksDisabledError('webhooks are disabled: set FACEFLEET_WEBHOOK_ALLOW to the hosts that may receive them');
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        return refuse('the webhook url is not an absolute URL');
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') refuse('webhook urls are http or https');
      if (url.username !== '' || url.password !== '') refuse('webhook urls may not carry credentials');
      const host = bareHost(url);
      if (net.isIP(unmap(host))) {
        const ip = unmap(host);
        if (!allowedNets.check(ip, family(ip))) refuse(`the address ${ip} is not in FACEFLEET_WEBHOOK_ALLOW`);
        checkAddress(ip, host);
        return url;
      }
      const named = names.has(host) || suffixes.some((s) => host.endsWith(s) && host.length > s.length);
      if (!named) refuse(`the host ${host} is not in FACEFLEET_WEBHOOK_ALLOW`);
      return url;
    },
  };
}
