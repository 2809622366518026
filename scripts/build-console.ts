/**
 * Bundle the web console (`src/console/`) into `dist/console/`: one minified script, one
 * stylesheet and `index.html`, nothing fetched at run time. Run by `npm run build` and at
 * `npm ci` (`prepare`). Prints the gzipped size of what ships.
 *
 *   tsx scripts/build-console.ts [--out DIR]
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
const src = path.join(root, 'src', 'console');
const outIndex = process.argv.indexOf('--out');
const out = outIndex > 0 ? path.resolve(process.argv[outIndex + 1]) : path.join(root, 'dist', 'console');

await fs.rm(out, { recursive: true, force: true });
await fs.mkdir(out, { recursive: true });
await build({
  entryPoints: [path.join(src, 'main.ts'), path.join(src, 'console.css')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  outdir: out,
  entryNames: '[name]',
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});
await fs.copyFile(path.join(src, 'index.html'), path.join(out, 'index.html'));
await fs.copyFile(path.join(src, 'favicon.svg'), path.join(out, 'favicon.svg'));

let raw = 0;
let gzipped = 0;
for (const name of await fs.readdir(out)) {
  const body = await fs.readFile(path.join(out, name));
  raw += body.length;
  gzipped += gzipSync(body, { level: 9 }).length;
}
process.stdout.write(`console: ${path.relative(root, out)} ${(raw / 1024).toFixed(1)} KB, ${(gzipped / 1024).toFixed(1)} KB gzipped\n`);
