/**
 * Summarise a V8 `.cpuprofile` (from `node --cpu-prof`): self time by function and by
 * package/file, top entries first. For finding where a benchmarked process spends its CPU.
 *
 *   npx tsx scripts/lib/profile-summary.ts <file.cpuprofile> [top] [--inclusive]
 *
 * `--inclusive` adds a third list: total time by function, callees included (each sample
 * counts once per function on its stack), to see what a call costs with everything it calls.
 */
import fs from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const args = process.argv.slice(2);
const inclusive = args.includes('--inclusive');
const [file, topArg] = args.filter((a) => a !== '--inclusive');
const prof = JSON.parse(fs.readFileSync(file!, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((s, x) => s + x, 0);
const fn = new Map<string, number>();
const pkg = new Map<string, number>();
for (const [id, us] of self) {
  const cf = byId.get(id)!.callFrame;
  const where = cf.url.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1').replace(/^.*\/work\/main\//, '');
  fn.set(`${cf.functionName || '(anon)'} ${where}:${cf.lineNumber + 1}`, (fn.get(`${cf.functionName || '(anon)'} ${where}:${cf.lineNumber + 1}`) ?? 0) + us);
  pkg.set(where || cf.functionName, (pkg.get(where || cf.functionName) ?? 0) + us);
}
const top = Number(topArg ?? 25);
const show = (m: Map<string, number>) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .forEach(([k, v]) => console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${(v / 1000).toFixed(0).padStart(7)} ms  ${k}`));
console.log(`total ${(total / 1000).toFixed(0)} ms sampled\n-- by file/package --`);
show(pkg);
console.log('-- by function --');
show(fn);

if (inclusive) {
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (cf: Node['callFrame']) => {
    const where = cf.url.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1').replace(/^.*\/work\/main\//, '');
    return `${cf.functionName || '(anon)'} ${where}:${cf.lineNumber + 1}`;
  };
  const incl = new Map<string, number>();
  for (const [id, us] of self) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const k = key(byId.get(at)!.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + us);
    }
  }
  console.log('-- inclusive, by function --');
  show(incl);
}
