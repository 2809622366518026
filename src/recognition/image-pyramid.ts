/**
 * dlib's tiled image pyramid (`create_tiled_pyramid` with `pyramid_down<N>`, padding 10, no outer
 * padding), as dlib's `input_rgb_image_pyramid` builds it for the MMOD face detector: every level
 * of the pyramid packed into one image, so one forward pass of a fully convolutional net scans all
 * scales. Level 0 is the image itself; each next level is the previous one scaled by (N-1)/N
 * (sizes rounded down) with dlib's bilinear `resize_image`; levels stop below 5 rows.
 */
import type { RgbImage } from './decode.js';

/** A level's place in the tiled image: inclusive pixel edges, as dlib's `rectangle`. */
export interface TileRect {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export interface TiledPyramid {
  width: number;
  height: number;
  /** RGB, 0..255, row-major; pixels between tiles are 0 (black), as in dlib. */
  data: Uint8Array;
  /** Where each level sits, level 0 first. */
  rects: TileRect[];
  /** The pyramid's N: each level is (N-1)/N of the previous. */
  n: number;
}

const PADDING = 10;
const MIN_HEIGHT = 5;

const tileWidth = (r: TileRect): number => r.right - r.left + 1;
const tileHeight = (r: TileRect): number => r.bottom - r.top + 1;

/** dlib's `compute_tiled_image_pyramid_details`: level sizes and their places (outer padding 0). */
export function tiledPyramidLayout(width: number, height: number, n: number): { width: number; height: number; rects: TileRect[] } {
  if (width * height === 0) return { width: 0, height: 0, rects: [] };
  const rate = (n - 1) / n;
  const sizes: Array<{ w: number; h: number }> = [{ w: width, h: height }];
  for (let nr = height, nc = width; ; ) {
    nr = Math.floor(rate * nr);
    nc = Math.floor(rate * nc);
    if (nr * nc === 0 || nr < MIN_HEIGHT) break;
    sizes.push({ w: nc, h: nr });
  }
  const first = sizes[0];
  const totalHeight = sizes.reduce((s, z) => s + z.h + PADDING, 0) - 2 * PADDING;
  // The first column goes down until the next level fits beside the previous one and the
  // column is at least half the total height; the rest climbs back up along the right edge.
  let columnHeight = 0;
  let prevWidth = 0;
  for (const z of sizes) {
    if (z.w <= first.w - prevWidth - PADDING && (columnHeight - first.h) * 2 >= totalHeight - first.h) break;
    columnHeight += z.h + PADDING;
    prevWidth = z.w;
  }
  columnHeight -= PADDING;
  const rects: TileRect[] = [];
  let y = 0;
  let i = 0;
  for (; y < columnHeight && i < sizes.length; i++) {
    rects.push({ left: 0, top: y, right: sizes[i].w - 1, bottom: y + sizes[i].h - 1 });
    y += sizes[i].h + PADDING;
  }
  y -= PADDING;
  for (; i < sizes.length; i++) {
    const r = { left: first.w - sizes[i].w, top: y - sizes[i].h, right: first.w - 1, bottom: y - 1 };
    // Stop rather than overlap level 0.
    if (r.left <= rects[0].right && r.top <= rects[0].bottom && r.right >= rects[0].left && r.bottom >= rects[0].top) break;
    rects.push(r);
    y -= sizes[i].h + PADDING;
  }
  return { width: first.w, height: columnHeight, rects };
}

/**
 * dlib's bilinear `resize_image` of an RGB tile into another, both inside `out` (width `stride`):
 * corner-aligned sampling, scale (in-1)/(out-1), edge pixels clamped.
 */
function resizeTile(buf: Uint8Array, stride: number, from: TileRect, to: TileRect): void {
  const inW = tileWidth(from), inH = tileHeight(from), outW = tileWidth(to), outH = tileHeight(to);
  const xs = (inW - 1) / Math.max(outW - 1, 1), ys = (inH - 1) / Math.max(outH - 1, 1);
  for (let r = 0; r < outH; r++) {
    const y = r * ys;
    const top = Math.floor(y), bottom = Math.min(top + 1, inH - 1), fy = y - top;
    const rowT = (from.top + top) * stride + from.left, rowB = (from.top + bottom) * stride + from.left;
    for (let c = 0; c < outW; c++) {
      const x = c * xs;
      const left = Math.floor(x), right = Math.min(left + 1, inW - 1), fx = x - left;
      const o = ((to.top + r) * stride + to.left + c) * 3;
      for (let k = 0; k < 3; k++) {
        const tl = buf[(rowT + left) * 3 + k], tr = buf[(rowT + right) * 3 + k];
        const bl = buf[(rowB + left) * 3 + k], br = buf[(rowB + right) * 3 + k];
        // dlib's SIMD path converts with the CPU's default rounding (to nearest).
        buf[o + k] = Math.round((1 - fy) * ((1 - fx) * tl + fx * tr) + fy * ((1 - fx) * bl + fx * br));
      }
    }
  }
}

/** The tiled pyramid of an RGB image (dlib's `create_tiled_pyramid<pyramid_down<n>>`). */
export function tiledPyramid(img: RgbImage, n: number): TiledPyramid {
  const layout = tiledPyramidLayout(img.width, img.height, n);
  const data = new Uint8Array(layout.width * layout.height * 3);
  if (layout.rects.length > 0) {
    const r0 = layout.rects[0];
    for (let y = 0; y < img.height; y++) {
      data.set(img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3), ((r0.top + y) * layout.width + r0.left) * 3);
    }
    for (let i = 1; i < layout.rects.length; i++) resizeTile(data, layout.width, layout.rects[i - 1], layout.rects[i]);
  }
  return { ...layout, data, n };
}

/** Index of the level nearest `(x, y)` in the tiled image (dlib's `nearest_rect`: the first containing it, else the closest). */
export function nearestTile(rects: TileRect[], x: number, y: number): number {
  let best = 0;
  let bestDist = Infinity;
  for (const [i, r] of rects.entries()) {
    const nx = Math.min(Math.max(x, r.left), r.right), ny = Math.min(Math.max(y, r.top), r.bottom);
    const d = Math.hypot(nx - x, ny - y);
    if (d === 0) return i;
    if (d < bestDist) {
      bestDist = d;
      best = i;
    }
  }
  return best;
}

/**
 * A point of the tiled image back in original-image pixels: relative to its level's tile, then
 * up the pyramid as dlib's `pyramid_down<N>::point_up` (x * N/(N-1) + 0.3 per level).
 */
export function tiledToImage(p: TiledPyramid, level: number, x: number, y: number): { x: number; y: number } {
  const r = p.rects[level];
  let px = x - r.left, py = y - r.top;
  const up = p.n / (p.n - 1);
  for (let i = 0; i < level; i++) {
    px = px * up + 0.3;
    py = py * up + 0.3;
  }
  return { x: px, y: py };
}
