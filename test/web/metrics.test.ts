import { Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { request } from '../helpers/http.js';
import { startHarness } from './harness.js';

describe('GET /metrics', () => {
  it('merges the extra registries (e.g. the controller gauges) into the scrape', async () => {
    const controller = new Registry();
    const gauge = new Gauge({ name: 'facefleet_test_fleet_desired', help: 'test gauge', registers: [controller] });
    gauge.set(3);
    const h = await startHarness({ extraMetrics: [controller] });
    try {
      const res = await request(`${h.url}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(res.text).toContain('facefleet_test_fleet_desired 3');
      expect(res.text).toContain('# TYPE facefleet_queue_depth gauge');
      gauge.set(5);
      expect((await request(`${h.url}/metrics`)).text).toContain('facefleet_test_fleet_desired 5');
    } finally {
      await h.close();
    }
  });
});

describe('GET /metrics: the web breaker', () => {
  it('shows the store circuit breaker state', async () => {
    let state = 'closed';
    const breaker = { state: () => state, call: <T>(fn: () => Promise<T>) => fn() };
    const h = await startHarness({ breaker });
    try {
      expect((await request(`${h.url}/metrics`)).text).toMatch(/^facefleet_web_breaker_state\{state="closed"\} 1$/m);
      state = 'open';
      const text = (await request(`${h.url}/metrics`)).text;
      expect(text).toMatch(/^facefleet_web_breaker_state\{state="open"\} 1$/m);
      expect(text).toMatch(/^facefleet_web_breaker_state\{state="closed"\} 0$/m);
    } finally {
      await h.close();
    }
  });
});
