/**
 * Engine-only throughput with W processes: the ceiling the end-to-end system is compared to.
 * Each process runs `engine-child.ts` on every W-th image; all start together once every one
 * has loaded its model, and throughput is all images over the slowest process's time.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { percentile } from './http-client.js';
import type { ImageSetName } from './bench-images.js';

export interface EngineBaseline {
  processes: number;
  images: number;
  seconds: number;
  imagesPerSecond: number;
  /** Median time of one image in one process, ms (the figure unloaded latency is compared to). */
  p50MsPerImage: number;
  meanMsPerImage: number;
  /** CPU (user + system) of the engine processes per image, ms: what a worker's CPU per job is compared to. */
  cpuMsPerImage: number;
  backend: string;
}

interface Done {
  type: 'done';
  images: number;
  ms: number;
  perImageMs: number[];
  cpuMs: number;
}

/** `limit`: only the first images of the set (default all). */
export async function measureEngine(options: { processes: number; set: ImageSetName; lfwCount?: number; lfwDir?: string; passes?: number; limit?: number }): Promise<EngineBaseline> {
  const script = path.resolve(process.cwd(), 'scripts/lib/engine-child.ts');
  const args = [options.set, String(options.lfwCount ?? 200), '', String(options.processes), String(options.passes ?? 1), String(options.limit ?? 1_000_000), options.lfwDir ?? ''];
  const children = Array.from({ length: options.processes }, (_, i) => {
    const argv = [...args];
    argv[2] = String(i);
    return fork(script, argv, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  });
  try {
    let backend = '';
    const ready = children.map(
      (c) =>
        new Promise<void>((resolve, reject) => {
          c.once('exit', (code) => reject(new Error(`engine child exited (${code}) before it was ready`)));
          c.once('message', (m: { type: string; backend: string }) => {
            backend = m.backend;
            resolve();
          });
        }),
    );
    await Promise.all(ready);
    // The images are handed out one at a time, as a queue would: no process idles while another finishes its share.
    const total = (options.limit === undefined ? Number.POSITIVE_INFINITY : options.limit) * (options.passes ?? 1);
    let handedOut = 0;
    const done = children.map(
      (c) =>
        new Promise<Done>((resolve, reject) => {
          // A child that dies mid-run would otherwise leave this waiting forever.
          c.once('exit', (code, signal) => reject(new Error(`engine child exited (${code ?? signal}) before it reported`)));
          c.on('message', (m: Done | { type: 'next' }) => {
            if (m.type === 'next') c.send({ index: handedOut < total ? handedOut++ : -1 });
            else if (m.type === 'done') resolve(m);
          });
        }),
    );
    for (const c of children) c.send({ type: 'go' });
    const results = await Promise.all(done);
    const images = results.reduce((s, r) => s + r.images, 0);
    const seconds = Math.max(...results.map((r) => r.ms)) / 1000;
    const all = results.flatMap((r) => r.perImageMs);
    return {
      processes: options.processes,
      images,
      seconds,
      imagesPerSecond: images / seconds,
      p50MsPerImage: percentile(all, 50),
      meanMsPerImage: all.reduce((s, x) => s + x, 0) / all.length,
      cpuMsPerImage: results.reduce((s, r) => s + r.cpuMs, 0) / images,
      backend,
    };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  }
}
