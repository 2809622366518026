/**
 * What the EC2 workers install: the user data's install step, run in bash with `aws` and `npm`
 * replaced by shell functions, refuses a tarball whose SHA-256 is not the one provision recorded;
 * and `npm pack` of a project gives the tarball provision uploads.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packProject, projectRoot, releaseKey, sha256File } from '../../src/aws/provision-release.js';
import { installScript, workerUserData, type WorkerInstall } from '../../src/aws/user-data.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ff-worker-package-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Run the install step as cloud-init would (bash, `set -euo pipefail`), with `aws s3 cp` copying
 * `served` to its destination and `npm` and `logger` recording their calls.
 */
function runInstall(install: WorkerInstall, served: string, tarball: string) {
  const calls = path.join(tmp, `calls-${Math.random().toString(36).slice(2)}`);
  const fakes = [
    `aws() { [ "$1 $2" = "s3 cp" ] || exit 9; cp ${JSON.stringify(served)} "\${@: -1}"; echo "aws $*" >>${JSON.stringify(calls)}; }`,
    `npm() { echo "npm $*" >>${JSON.stringify(calls)}; }`,
    `logger() { echo "logger $*" >>${JSON.stringify(calls)}; }`,
  ].join('\n');
  const script = `set -euo pipefail\n${fakes}\n${installScript(install, 'eu-west-1', tarball)}\n`;
  const result = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  const log = existsSync(calls) ? (spawnSync('cat', [calls], { encoding: 'utf8' }).stdout ?? '') : '';
  return { status: result.status, stderr: result.stderr, calls: log.split('\n').filter(Boolean) };
}

describe('the workers\' install step', () => {
  const content = 'facefleet tarball bytes';
  const install: WorkerInstall = { kind: 'release', bucket: 'acme-blobs', key: releaseKey(sha(content), 'facefleet-0.2.0.tgz'), sha256: sha(content) };

  it('downloads the release and installs it when its SHA-256 is the recorded one', () => {
    const served = path.join(tmp, 'good.tgz');
    writeFileSync(served, content);
    const tarball = path.join(tmp, 'installed-good.tgz');
    const run = runInstall(install, served, tarball);
    expect(run.status, run.stderr).toBe(0);
    expect(run.calls[0]).toBe(`aws s3 cp --only-show-errors --region eu-west-1 s3://acme-blobs/${install.key} ${tarball}`);
    expect(run.calls[1]).toBe(`npm install -g ${tarball}`);
  });

  it('refuses a tampered tarball: exits 1, says so loudly, deletes it and never runs npm', () => {
    const served = path.join(tmp, 'tampered.tgz');
    writeFileSync(served, `${content} plus something else`);
    const tarball = path.join(tmp, 'installed-tampered.tgz');
    const run = runInstall(install, served, tarball);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`facefleet: REFUSING to install s3://acme-blobs/${install.key}: its SHA-256 is ${sha(`${content} plus something else`)}, provision recorded ${install.sha256}`);
    expect(run.calls.some((c) => c.startsWith('logger -p user.crit -t facefleet'))).toBe(true);
    expect(run.calls.some((c) => c.startsWith('npm'))).toBe(false);
    expect(existsSync(tarball)).toBe(false);
  });

  it('refuses a hash or a location it could not quote safely', () => {
    expect(() => installScript({ ...install, sha256: 'abc' }, 'eu-west-1')).toThrow(/SHA-256/);
    expect(() => installScript({ ...install, key: 'releases/$(reboot).tgz' }, 'eu-west-1')).toThrow(/plain S3 location/);
  });

  it('puts the install step, and only it, into the user data; an operator\'s spec goes to npm as given', () => {
    const script = workerUserData({ prefix: 'acme', region: 'eu-west-1', install });
    expect(script).toContain(`if [ "$GOT_SHA256" != '${install.sha256}' ]; then`);
    expect(script).not.toMatch(/npm install -g 'facefleet'/);
    const given = workerUserData({ prefix: 'acme', region: 'eu-west-1', install: { kind: 'spec', spec: '@acme/facefleet@1.2.3' } });
    expect(given).toContain(`npm install -g '@acme/facefleet@1.2.3'`);
    expect(given).not.toContain('GOT_SHA256');
  });
});

describe('packing a project', () => {
  it('npm pack gives one tarball of the project, whose hash names its release key', async () => {
    const dir = path.join(tmp, 'tiny');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'tiny-worker', version: '1.0.0', files: ['index.js'] }));
    writeFileSync(path.join(dir, 'index.js'), 'export {};\n');
    const tgz = await packProject(dir);
    try {
      expect(path.basename(tgz)).toBe('tiny-worker-1.0.0.tgz');
      const listing = spawnSync('tar', ['-tzf', tgz], { encoding: 'utf8' }).stdout.split('\n');
      expect(listing).toContain('package/index.js');
      const digest = await sha256File(tgz);
      expect(releaseKey(digest, tgz)).toBe(`releases/${digest}/tiny-worker-1.0.0.tgz`);
    } finally {
      rmSync(path.dirname(tgz), { recursive: true, force: true });
    }
  });

  it('packs the facefleet checkout it runs from by default, and names the way out when there is none', async () => {
    expect(existsSync(path.join(projectRoot(), 'src', 'aws', 'provision-release.ts'))).toBe(true);
    expect(() => projectRoot(tmp)).toThrow(/--tarball FILE or --package SPEC/);
    await expect(packProject(path.join(tmp, 'nowhere'))).rejects.toMatchObject({ code: 'config' });
  });
});
