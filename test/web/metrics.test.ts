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
