/**
 * Local mode must never load the AWS SDK: only the AWS adapters, `src/aws` and the EC2 fleet
 * may import it, and nothing else may import them except through `await import()`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(process.cwd(), 'src');
const ALLOWED = [/^store\/aws\//, /^aws\//, /^controller\/ec2-fleet\.ts$/];

async function files(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : Promise.resolve(e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []))));
  return nested.flat();
}

describe('AWS SDK isolation', () => {
  it('imports @aws-sdk and @smithy only from the AWS folders', async () => {
    const offenders: string[] = [];
    for (const file of await files(SRC)) {
      const rel = path.relative(SRC, file).split(path.sep).join('/');
      if (ALLOWED.some((re) => re.test(rel))) continue;
      const text = await fs.readFile(file, 'utf8');
      if (/from\s+['"](@aws-sdk|@smithy)\//.test(text) || /import\(\s*['"](@aws-sdk|@smithy)\//.test(text)) offenders.push(rel);
    }
    expect(offenders).toEqual([]);
  });

  it('reaches the AWS modules from elsewhere only through dynamic import()', async () => {
    const offenders: string[] = [];
    for (const file of await files(SRC)) {
      const rel = path.relative(SRC, file).split(path.sep).join('/');
      if (ALLOWED.some((re) => re.test(rel))) continue;
      const text = await fs.readFile(file, 'utf8');
      // A static (non-type) import of an AWS module would load the SDK in local mode too.
      const statics = [...text.matchAll(/^import\s+(?!type\b)[^;]*?from\s+['"]([^'"]+)['"]/gms)].map((m) => m[1]!);
      if (statics.some((s) => /(^|\/)(store\/aws|aws)\/|ec2-fleet\.js$/.test(s))) offenders.push(rel);
    }
    expect(offenders).toEqual([]);
  });
});
