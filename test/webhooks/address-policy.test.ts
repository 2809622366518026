import { describe, expect, it } from 'vitest';
import { createAddressPolicy } from '../../src/webhooks/address-policy.js';
import { WebhookUrlRefusedError, WebhooksDisabledError } from '../../src/webhooks/errors.js';

describe('webhook address policy', () => {
  const policy = createAddressPolicy(['hooks.example.com', '.corp.example', '*.svc.example', '127.0.0.1', '10.1.0.0/16', '::1', '169.254.169.254', 'fd00:ec2::254']);
  const refused = (url: string) => expect(() => policy.checkUrl(url), url).toThrow(WebhookUrlRefusedError);

  it('is off, with a clear error, when the list is empty', () => {
    const off = createAddressPolicy([]);
    expect(off.disabled).toBe(true);
    expect(() => off.checkUrl('https://hooks.example.com/')).toThrow(WebhooksDisabledError);
    expect(() => off.checkUrl('https://hooks.example.com/')).toThrow(/FACEFLEET_WEBHOOK_ALLOW/);
  });

  it('takes listed hosts, suffixes and addresses, and nothing else', () => {
    expect(policy.disabled).toBe(false);
    for (const url of ['https://hooks.example.com/x', 'http://a.corp.example/', 'http://deep.a.svc.example:8080/', 'http://127.0.0.1:9/', 'http://10.1.2.3/', 'http://[::1]:80/']) {
      expect(policy.checkUrl(url).href, url).toBe(new URL(url).href);
    }
    for (const url of ['https://other.example.com/', 'https://hooks.example.com.evil.io/', 'http://corp.example/', 'http://xcorp.example/', 'http://127.0.0.2/', 'http://10.2.0.1/', 'http://localhost/', 'file:///etc/passwd', 'http://u:p@hooks.example.com/', 'not a url']) {
      refused(url);
    }
  });

  it('always refuses link-local and metadata addresses, even when listed, in every spelling', () => {
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://[fd00:ec2::254]/', 'http://[::ffff:169.254.169.254]/', 'http://[fe80::1]/']) refused(url);
    for (const address of ['169.254.169.254', '169.254.0.1', 'fd00:ec2::254', '::ffff:169.254.1.1', 'fe80::abcd']) {
      expect(() => policy.checkAddress(address, 'hooks.example.com'), address).toThrow(/link-local or metadata/);
    }
  });

  it('at delivery, refuses internal addresses not listed (DNS rebinding) and takes public ones', () => {
    for (const address of ['127.0.0.2', '10.0.0.1', '192.168.1.1', '172.16.0.1', '100.64.0.1', '0.0.0.0', 'fc00::1', '::', '::ffff:10.0.0.1']) {
      expect(() => policy.checkAddress(address, 'hooks.example.com'), address).toThrow(/internal address/);
    }
    for (const address of ['127.0.0.1', '10.1.9.9', '::1', '203.0.113.7', '2001:db8::1', '::ffff:127.0.0.1']) {
      expect(() => policy.checkAddress(address, 'hooks.example.com'), address).not.toThrow();
    }
  });
});
