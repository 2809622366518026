import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { formatLogLine } from '../src/log.js';

describe('logs for people', () => {
  it('prints local time, level, name, message and the key fields', () => {
    const time = new Date(2026, 0, 2, 13, 4, 5, 67).getTime();
    const line = JSON.stringify({ level: 30, time, pid: 1, hostname: 'h', name: 'facefleet-worker', jobId: 'j-1', ms: 140, msg: 'job done' });
    expect(formatLogLine(`${line}\n`)).toBe('13:04:05.067 INFO  facefleet-worker: job done  jobId=j-1 ms=140\n');
    expect(formatLogLine(JSON.stringify({ level: 40, time, msg: 'slow', err: { code: 'x' } }))).toBe('13:04:05.067 WARN  slow  err={"code":"x"}\n');
  });

  it('takes --log-format json|pretty, and refuses anything else', () => {
    expect(loadConfig({ logFormat: 'json' }, {}).logFormat).toBe('json');
    expect(loadConfig({}, { FACEFLEET_LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(loadConfig({}, {}).logFormat).toBeUndefined();
    expect(() => loadConfig({ logFormat: 'xml' }, {})).toThrow(/log format/);
  });
});
