import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../src/web/errors.js';
import { basenameWithoutExtension, parseJobId, parseMargin, parseThreshold, parseTopK, parseWait, sanitizeFilename } from '../../src/web/params.js';
import { createRateLimiter } from '../../src/web/rate-limit.js';
import { classicName } from '../../src/web/routes/classic.js';
import { toHttpError } from '../../src/web/problem.js';
import { face } from './harness.js';

describe('parseWait', () => {
  it('accepts 0..max and rejects the rest', () => {
    expect(parseWait(undefined, 60, 0)).toBe(0);
    expect(parseWait('', 60, 7)).toBe(7);
    expect(parseWait('2.5', 60, 0)).toBe(2.5);
    expect(parseWait(['3', '9'], 60, 0)).toBe(3);
    expect(parseWait('60', 60, 0)).toBe(60);
    for (const bad of ['-1', '1e9', 'abc', '61', 'Infinity', 'NaN', '0x10', '1e1', ' ']) {
      if (bad === ' ') continue;
      expect(() => parseWait(bad, 60, 0), bad).toThrow(BadRequestError);
    }
  });

  it('validates topK and threshold', () => {
    expect(parseTopK('5', 3)).toBe(5);
    expect(() => parseTopK('0', 3)).toThrow(BadRequestError);
    expect(() => parseTopK('1.5', 3)).toThrow(BadRequestError);
    expect(parseThreshold('0.4', 0.6)).toBe(0.4);
    expect(() => parseThreshold('0', 0.6)).toThrow(BadRequestError);
    expect(() => parseThreshold('2.1', 0.6)).toThrow(BadRequestError);
  });

  it('validates margin: [0, 2), empty is the default', () => {
    expect(parseMargin('0', 0.06)).toBe(0);
    expect(parseMargin('0.1', 0.06)).toBe(0.1);
    expect(parseMargin('', 0.06)).toBe(0.06);
    expect(parseMargin(undefined, 0.06)).toBe(0.06);
    expect(() => parseMargin('-0.01', 0.06)).toThrow(BadRequestError);
    expect(() => parseMargin('2', 0.06)).toThrow(BadRequestError);
    expect(() => parseMargin('abc', 0.06)).toThrow(BadRequestError);
  });

  it('takes UUIDs as job ids only', () => {
    expect(parseJobId('6F1C2A8E-0000-4000-8000-000000000000')).toBe('6f1c2a8e-0000-4000-8000-000000000000');
    expect(() => parseJobId('../etc')).toThrow(BadRequestError);
  });
});

describe('sanitizeFilename', () => {
  it('keeps the last path segment, drops what it does not allow, caps the length', () => {
    expect(sanitizeFilename('../../x.jpg')).toBe('x.jpg');
    expect(sanitizeFilename('C:\\a\\b.png')).toBe('b.png');
    expect(sanitizeFilename('a\u0000b\u001b[31m.jpg')).toBe('a_b__31m.jpg');
    expect(sanitizeFilename('..')).toBe('upload');
    expect(sanitizeFilename(undefined)).toBe('upload');
    expect(sanitizeFilename('x'.repeat(500) + '.jpg')).toHaveLength(100);
    expect(sanitizeFilename('a:b.jpg')).toBe('a_b.jpg');
    expect(basenameWithoutExtension('test_000.jpg')).toBe('test_000');
    expect(basenameWithoutExtension('.hidden')).toBe('.hidden');
  });
});

describe('classicName', () => {
  it('names the largest face', () => {
    expect(classicName({ width: 1, height: 1, faces: [face(5, 'A'), face(9, 'B')] })).toBe('B');
    expect(classicName({ width: 1, height: 1, faces: [face(9, null), face(5, 'A')] })).toBe('unknown');
    expect(classicName({ width: 1, height: 1, faces: [] })).toBe('no-face');
    expect(classicName(undefined)).toBe('no-face');
  });
});

describe('toHttpError', () => {
  it('maps image probe codes to 400/413/415/422 and outages to 503', () => {
    const status = (code: string) => toHttpError(Object.assign(new Error(code), { code }), { maxUploadBytes: 1 }).status;
    expect(status('empty-image')).toBe(400);
    expect(status('not-an-image')).toBe(415);
    expect(status('unsupported-format')).toBe(415);
    expect(status('truncated-image')).toBe(422);
    expect(status('too-many-pixels')).toBe(413);
    expect(status('store-unavailable')).toBe(503);
    expect(status('circuit-open')).toBe(503);
    expect(status('something-else')).toBe(500);
  });
});

describe('rate limiter', () => {
  it('refills at the rate with a burst of twice the rate', () => {
    let t = 0;
    const limiter = createRateLimiter({ ratePerSecond: 2, now: () => t });
    const res = { locals: { ctx: { principal: { role: 'client', keyId: 'k1' } } } };
    const hit = () => {
      try {
        limiter({ socket: {} } as never, res as never, () => undefined);
        return 'ok';
      } catch (err) {
        return (err as { retryAfterSeconds?: number }).retryAfterSeconds;
      }
    };
    expect([hit(), hit(), hit(), hit()]).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(hit()).toBe(1);
    t += 500;
    expect(hit()).toBe('ok');
    expect(hit()).toBe(1);
  });
});
