import type { Face, JobResult } from './api.js';
import { h } from './dom.js';

/** The label of a face: its identity, or `unknown` (with its unknown id when it has one). */
export function faceLabel(face: Face): string {
  if (face.match) return face.match.identity;
  // Not judged: too poor a face to name, which is not the same as a stranger.
  if (face.reason === 'low-quality') return 'low quality';
  return face.unknown?.id ? `unknown ${face.unknown.id}` : 'unknown';
}

function describe(face: Face): string {
  const lines = [faceLabel(face)];
  if (face.match) lines.push(`distance ${face.match.distance.toFixed(3)}`);
  const reason = face.unknown?.reason ?? face.reason;
  if (reason) lines.push(`reason: ${reason}`);
  if (face.candidates.length > 0) {
    lines.push('candidates:');
    for (const c of face.candidates) lines.push(`  ${c.identity}  ${c.distance.toFixed(3)}`);
  }
  lines.push(`detection score ${face.score.toFixed(2)}`);
  const q = face.quality;
  if (q) lines.push(`quality ${q.score.toFixed(2)} (sharpness ${q.sharpness.toFixed(2)}, brightness ${q.brightness.toFixed(2)}, ${Math.round(q.size)} px)`);
  if (face.pose) lines.push(`pose yaw ${face.pose.yaw.toFixed(0)}°, pitch ${face.pose.pitch.toFixed(0)}°, roll ${face.pose.roll.toFixed(0)}°`);
  return lines.join('\n');
}

/**
 * An image with each face's box and label drawn over it. Boxes are in the result's pixels, which
 * are EXIF-rotated; the `<img>` is shown EXIF-rotated too (`image-orientation: from-image`, the
 * browsers' default), so positions in percent of the result's size line up at any display size.
 * Each label is a button: hover or focus shows the distance and the candidates.
 */
export function annotatedImage(src: string, result: JobResult, options: { alt: string; onPick?: (face: Face, index: number) => void }): HTMLElement {
  const img = h('img', { src, alt: options.alt, class: 'photo' });
  const wrap = h('figure', { class: 'annotated', 'data-testid': 'annotated' }, img);
  result.faces.forEach((face, i) => {
    const b = face.box;
    const known = face.match !== null;
    const tipId = `face-tip-${i}-${Math.random().toString(36).slice(2, 8)}`;
    const tip = h('span', { class: 'tip', role: 'tooltip', id: tipId }, describe(face));
    const label = h(
      'button',
      {
        type: 'button',
        class: `label ${known ? 'known' : 'unknown'}`,
        'aria-describedby': tipId,
        'data-testid': 'face-label',
        onclick: options.onPick ? () => options.onPick!(face, i) : undefined,
      },
      options.onPick ? `Pick face ${i + 1}` : faceLabel(face),
    );
    const box = h('div', { class: `box ${known ? 'known' : 'unknown'}`, 'data-testid': 'face-box' }, label, tip);
    box.style.left = `${(100 * b.x) / result.width}%`;
    box.style.top = `${(100 * b.y) / result.height}%`;
    box.style.width = `${(100 * b.width) / result.width}%`;
    box.style.height = `${(100 * b.height) / result.height}%`;
    wrap.appendChild(box);
  });
  return wrap;
}

/**
 * The face in `box` of an image cut out with a margin, as a JPEG: how the gallery enrolls the
 * face the user picked in a photo with several (the enroll route then takes the largest face of
 * the crop). Drawn from the displayed `<img>`, which is already EXIF-rotated like the box.
 */
export async function cropFace(img: HTMLImageElement, box: Face['box']): Promise<Blob> {
  const side = Math.max(box.width, box.height) * 1.8;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const sx = Math.max(0, cx - side / 2);
  const sy = Math.max(0, cy - side / 2);
  const sw = Math.min(img.naturalWidth - sx, side);
  const sh = Math.min(img.naturalHeight - sy, side);
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(sw);
  canvas.height = Math.round(sh);
  canvas.getContext('2d')!.drawImage(img, sx, sy, sw, sh, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('could not crop the face'))), 'image/jpeg', 0.95));
}
