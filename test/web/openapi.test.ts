import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../helpers/http.js';
import { startHarness, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

/** `METHOD /path/{param}` for every route express will dispatch to. */
function expressRoutes(): string[] {
  const router = (h.web.app as unknown as { router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } }).router;
  const out: string[] = [];
  for (const layer of router.stack) {
    if (!layer.route) continue;
    const path = layer.route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') out.push(`${method.toUpperCase()} ${path}`);
  }
  return out.sort();
}

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document describing exactly the routes the app serves', async () => {
    const res = await request(`${h.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.json.openapi).toBe('3.1.0');
    const documented: string[] = [];
    for (const [path, ops] of Object.entries(res.json.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(ops)) documented.push(`${method.toUpperCase()} ${path}`);
    }
    const served = expressRoutes();
    expect(served.length).toBeGreaterThan(10);
    expect(documented.sort()).toEqual(served);
  });

  it('resolves every $ref', async () => {
    const doc = (await request(`${h.url}/openapi.json`)).json;
    const refs = JSON.stringify(doc).match(/"\$ref":"#\/components\/schemas\/[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) {
      const name = ref.split('/').pop()!.replace(/"$/, '');
      expect(doc.components.schemas[name], name).toBeDefined();
    }
  });
});
