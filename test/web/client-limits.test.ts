/**
 * Client keys may only tighten the match rule (issue 14, defect 6), repeated or bracketed query
 * parameters are 400 (item 7), and identity names that are only punctuation or have outer
 * spaces are refused (item 7). Over HTTP, on the real web tier.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateIdentityName } from '../../src/jobs/identity-name.js';
import { CLIENT_MAX_TOP_K } from '../../src/web/client-limits.js';
import { createApiKey } from '../../src/web/keys.js';
import { postJson, request, uploadFile } from '../helpers/http.js';
import { validJpeg } from '../helpers/hostile.js';
import { allJobs, startWithAuth, type Harness } from './harness.js';

describe('limits for client keys', () => {
  let h: Harness;
  let client: Record<string, string>;
  let operator: Record<string, string>;
  let jpeg: Buffer;
  beforeAll(async () => {
    h = await startWithAuth({}, async (keys) => {
      client = { authorization: `Bearer ${(await createApiKey(keys, { role: 'client' })).key}` };
      operator = { authorization: `Bearer ${(await createApiKey(keys, { role: 'operator' })).key}` };
    });
    jpeg = await validJpeg();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a client may lower the threshold and ask for a few candidates, not loosen or list the gallery', async () => {
    const before = (await allJobs(h.jobs)).length;
    for (const [fields, code] of [
      [{ threshold: '2' }, 'threshold-above-default'],
      [{ threshold: '0.61' }, 'threshold-above-default'],
      [{ margin: '0' }, 'margin-below-default'],
      [{ topK: '100' }, 'top-k-above-client-limit'],
      [{ topK: String(CLIENT_MAX_TOP_K + 1) }, 'top-k-above-client-limit'],
    ] as const) {
      const res = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, fields, client);
      expect(res.status, JSON.stringify(fields)).toBe(400);
      expect(res.json.type).toMatch(new RegExp(`${code}$`));
    }
    // Refused means nothing kept.
    expect((await allJobs(h.jobs)).length).toBe(before);
    const ok = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, { threshold: '0.4', margin: '0.1', topK: String(CLIENT_MAX_TOP_K) }, client);
    expect(ok.status).toBe(202);
  });

  it('an operator is not limited', async () => {
    const res = await uploadFile(`${h.url}/v1/jobs`, { data: jpeg }, { threshold: '1.2', margin: '0', topK: '100' }, operator);
    expect(res.status).toBe(202);
  });

  it('repeated and bracketed query parameters are 400, on any route', async () => {
    for (const q of ['topK[]=5', 'topK=1&topK=5', 'wait=1&wait=2', 'a[b]=1']) {
      const res = await request(`${h.url}/v1/jobs?${q}`, { method: 'POST', headers: client });
      expect(res.status, q).toBe(400);
      expect(res.json.type).toMatch(/array-parameter$/);
    }
    const get = await request(`${h.url}/v1/jobs/00000000-0000-4000-8000-000000000000?wait[]=1`, { headers: client });
    expect(get.status).toBe(400);
  });

  it('identity names: punctuation only, dot segments and outer spaces are refused', async () => {
    for (const bad of ['.', '..', '-', "'", '_ .', ' amy', 'amy ', ' ']) {
      expect(() => validateIdentityName(bad), JSON.stringify(bad)).toThrow(/letter or digit/);
      const res = await postJson(`${h.url}/v1/identities`, { name: bad }, operator);
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
    for (const good of ['amy', 'Amy Farrah-Fowler', "O'Brien", 'x.y', '007']) expect(validateIdentityName(good)).toBe(good);
  });
});
