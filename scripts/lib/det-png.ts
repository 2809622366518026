/**
 * A DET plot as a PNG, with no dependency: FPIR on a log axis (0.01% to 100%) across, FNIR on a
 * linear axis (0 to 100%) up, one coloured polyline per curve, gridlines at each decade and each
 * 10% of FNIR, and tick labels in a 3x5 pixel font. Written with node's zlib.
 */
import zlib from 'node:zlib';
import { PNG_SIGNATURE, pngChunk as chunk } from './png-chunk.js';

const W = 720, H = 480, L = 60, R = 20, T = 20, B = 50;
const COLOURS: Array<[number, number, number]> = [[31, 119, 180], [214, 39, 40], [44, 160, 44], [148, 103, 189], [255, 127, 14]];

/** 3x5 glyphs, rows top to bottom, 3 bits each (4 = left column). */
const FONT: Record<string, number[]> = {
  '0': [7, 5, 5, 5, 7], '1': [2, 6, 2, 2, 7], '2': [7, 1, 7, 4, 7], '3': [7, 1, 7, 1, 7], '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7], '6': [7, 4, 7, 5, 7], '7': [7, 1, 1, 1, 1], '8': [7, 5, 7, 5, 7], '9': [7, 5, 7, 1, 7],
  '.': [0, 0, 0, 0, 2], '%': [5, 1, 2, 4, 5], F: [7, 4, 6, 4, 4], P: [6, 5, 6, 4, 4], I: [7, 2, 2, 2, 7], R: [6, 5, 6, 5, 5], N: [5, 7, 7, 7, 5], ' ': [0, 0, 0, 0, 0],
};

export interface DetSeries {
  points: Array<{ fpir: number; fnir: number }>;
}

export function detPng(series: DetSeries[]): Buffer {
  const px = new Uint8Array(W * H * 3).fill(255);
  const set = (x: number, y: number, c: [number, number, number]) => {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    px.set(c, (y * W + x) * 3);
  };
  const line = (x0: number, y0: number, x1: number, y1: number, c: [number, number, number], thick = 1) => {
    const n = Math.max(1, Math.ceil(Math.hypot(x1 - x0, y1 - y0)));
    for (let i = 0; i <= n; i++) {
      const x = x0 + ((x1 - x0) * i) / n, y = y0 + ((y1 - y0) * i) / n;
      for (let d = 0; d < thick; d++) set(x, y + d, c);
    }
  };
  const text = (s: string, x: number, y: number, scale = 2) => {
    for (const [k, ch] of [...s].entries()) {
      const g = FONT[ch] ?? FONT[' '];
      for (let r = 0; r < 5; r++) for (let c = 0; c < 3; c++) if (g[r] & (4 >> c)) {
        for (let a = 0; a < scale; a++) for (let b = 0; b < scale; b++) set(x + (k * 4 + c) * scale + a, y + r * scale + b, [0, 0, 0]);
      }
    }
  };
  const xOf = (fpir: number) => L + ((Math.log10(Math.max(fpir, 1e-4)) + 4) / 4) * (W - L - R);
  const yOf = (fnir: number) => H - B - fnir * (H - T - B);
  const grey: [number, number, number] = [220, 220, 220];
  for (let e = -4; e <= 0; e++) {
    line(xOf(10 ** e), T, xOf(10 ** e), H - B, grey);
    text(['0.01%', '0.1%', '1%', '10%', '100%'][e + 4], xOf(10 ** e) - 12, H - B + 8);
  }
  for (let f = 0; f <= 10; f++) {
    line(L, yOf(f / 10), W - R, yOf(f / 10), grey);
    text(`${f * 10}%`, 8, yOf(f / 10) - 5);
  }
  text('FPIR', (W - L) / 2 + L - 16, H - 22);
  text('FNIR', L + 6, T + 2);
  line(L, T, L, H - B, [0, 0, 0]);
  line(L, H - B, W - R, H - B, [0, 0, 0]);
  series.forEach((s, i) => {
    const pts = [...s.points].sort((a, b) => a.fpir - b.fpir || b.fnir - a.fnir);
    for (let j = 1; j < pts.length; j++) line(xOf(pts[j - 1].fpir), yOf(pts[j - 1].fnir), xOf(pts[j].fpir), yOf(pts[j].fnir), COLOURS[i % COLOURS.length], 2);
  });
  return encodePng(px, W, H);
}

/** 8-bit RGB, no interlace, filter 0 on every row. */
export function encodePng(rgb: Uint8Array, width: number, height: number): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) Buffer.from(rgb.buffer, rgb.byteOffset + y * width * 3, width * 3).copy(raw, y * (width * 3 + 1) + 1);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
