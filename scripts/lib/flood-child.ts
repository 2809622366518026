/**
 * The auth flood's attacker, in its own process so that the measuring client's event loop is
 * not the one busy with the flood: `node --import tsx scripts/lib/flood-child.ts <url> <lanes> <id|->`
 * sends key-shaped fake keys from `lanes` concurrent lanes until SIGTERM, then prints its counts.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import sharp from 'sharp';
import { multipart } from './http-client.js';
import { send } from './web-child.js';

const [url, lanesArg, id] = process.argv.slice(2);
const lanes = Number(lanesArg);
const jpeg = await sharp({ create: { width: 96, height: 96, channels: 3, background: '#a08070' } }).jpeg().toBuffer();
const form = multipart('image', 'face.jpg', jpeg);
const agent = new http.Agent({ keepAlive: true, maxSockets: lanes });
const statuses: Record<number, number> = {};
let sent = 0;
let running = true;
const t0 = performance.now();
process.once('SIGTERM', () => (running = false));
const fake = () => `ff_${id && id !== '-' ? id : randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`;
await Promise.all(
  Array.from({ length: lanes }, async () => {
    while (running) {
      const r = await send(agent, `${url}/v1/jobs`, 'POST', { authorization: `Bearer ${fake()}`, 'content-type': form.contentType, 'content-length': form.body.length }, form.body);
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      sent++;
    }
  }),
);
agent.destroy();
process.stdout.write(`${JSON.stringify({ sent, perSecond: Math.round(sent / ((performance.now() - t0) / 1000)), statuses })}\n`);
