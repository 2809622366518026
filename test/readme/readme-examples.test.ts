/**
 * The README's first-screen examples run as written: enroll, upload-and-wait, submit-then-poll
 * and the classic protocol, pasted into bash from the repository root against `facefleet up`
 * started from the compiled CLI (what `npm start` runs), on a free port with a temp data dir.
 * Outcomes are checked in the JSON (or the classic line) they print, not byte for byte.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../../scripts/lib/stack.js';
import { BUILT_CLI, startUp, type Stack } from '../helpers/stack.js';
import { pointAt, readmeExamples, type ReadmeExample } from './readme-blocks.js';

interface Face {
  match: { identity: string; distance: number } | null;
}
interface Job {
  id: string;
  state: string;
  result?: { faces: Face[] };
}

let stack: Stack | undefined;
let examples: Map<string, ReadmeExample>;

function bash(script: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd: process.cwd(), timeout: 240_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function run(name: string): Promise<string[]> {
  const example = examples.get(name);
  expect(example, `README example ${name}`).toBeDefined();
  const out = await bash(pointAt(example!.script, stack!.url));
  expect(out.code, `${name} exited ${out.code}: ${out.stderr}`).toBe(0);
  return out.stdout.split('\n').filter((l) => l.trim() !== '');
}

describe('the README first screen', () => {
  beforeAll(async () => {
    examples = new Map(readmeExamples(await fs.readFile(path.resolve('README.md'), 'utf8')).map((e) => [e.name, e]));
    await ensureBuilt(() => {});
    stack = await startUp({ entry: BUILT_CLI, env: { FACEFLEET_LOG_LEVEL: 'info' } });
  }, 600_000);

  afterAll(async () => {
    await stack?.stop();
    if (stack) await fs.rm(stack.dataDir, { recursive: true, force: true });
  });

  it('has the four marked examples, each talking to localhost:8000', () => {
    expect([...examples.keys()]).toEqual(['enroll', 'upload-and-wait', 'submit-then-poll', 'classic']);
    for (const e of examples.values()) expect(e.script).toContain('localhost:8000');
  });

  it('enroll: creates Amy and adds her face', async () => {
    const [created, face] = (await run('enroll')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(JSON.stringify(created)).toContain('"Amy"');
    expect(face).toMatchObject({ identity: 'Amy' });
    expect(face.faceId).toBeTruthy();
    const listed = (await (await fetch(`${stack!.url}/v1/identities`)).json()) as { items: Array<{ name: string }> };
    expect(listed.items.map((i) => i.name)).toContain('Amy');
  }, 300_000);

  it('upload-and-wait: answers with the job done and Amy named', async () => {
    const lines = await run('upload-and-wait');
    expect(lines).toHaveLength(1);
    const job = JSON.parse(lines[0]) as Job;
    expect(job.state).toBe('done');
    expect(job.result!.faces[0].match?.identity).toBe('Amy');
  }, 300_000);

  it('submit-then-poll: the polled job is done, one entry per face of the group shot, none named wrongly', async () => {
    const lines = await run('submit-then-poll');
    expect(lines).toHaveLength(1);
    const job = JSON.parse(lines[0]) as Job;
    expect(job.state).toBe('done');
    expect(job.result!.faces.length).toBeGreaterThanOrEqual(2);
    for (const f of job.result!.faces) expect([null, 'Amy']).toContain(f.match?.identity ?? null);
  }, 300_000);

  it('classic: enrolls the CSE546 people (201 each), then answers test_000:Paul', async () => {
    const lines = await run('classic');
    const people = (await fs.readFile(path.resolve('examples/cse546/faces/people.txt'), 'utf8')).trim().split('\n');
    expect(lines.slice(0, -1)).toEqual(people.map((p) => `${p}: 201`));
    expect(lines.at(-1)).toBe('test_000:Paul');
  }, 600_000);
});
