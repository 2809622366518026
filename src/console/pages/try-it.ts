import { DEFAULT_COLLECTION, plainError } from '../api.js';
import { annotatedImage, faceLabel } from '../boxes.js';
import { dropZone, h, replace, statusLine } from '../dom.js';
import { collectionPicker } from './collection-picker.js';
import { UrlBag, type Page } from './context.js';

/** Try it: drop or pick an image, see every face boxed and named. */
export const tryItPage: Page = (root, { api }) => {
  const urls = new UrlBag();
  let collection = DEFAULT_COLLECTION;
  const status = statusLine();
  const output = h('div', { class: 'result', 'data-testid': 'try-result' });
  const summary = h('ul', { class: 'faces', 'aria-label': 'Faces found' });

  async function run(file: File): Promise<void> {
    urls.revoke();
    replace(output);
    replace(summary);
    status.className = 'status';
    status.textContent = `Recognising ${file.name}…`;
    try {
      const job = await api.recognize(file, { collection, filename: file.name });
      if (job.state !== 'done' || !job.result) {
        status.className = 'status error';
        status.textContent = `The job failed: ${job.error?.message ?? job.deadLetterReason ?? 'no reason given'}`;
        return;
      }
      const n = job.result.faces.length;
      status.textContent = n === 0 ? 'No face found in this image.' : `${n} face${n === 1 ? '' : 's'} found.`;
      replace(output, annotatedImage(urls.add(file), job.result, { alt: file.name }));
      replace(summary, ...job.result.faces.map((f) => h('li', {}, faceLabel(f), f.match ? ` (distance ${f.match.distance.toFixed(3)})` : '')));
    } catch (err) {
      status.className = 'status error';
      status.textContent = plainError(err);
    }
  }

  replace(
    root,
    h('h1', {}, 'Try it'),
    h('p', { class: 'lead' }, 'Drop a photo, or pick one, to see each face found and who it is.'),
    h(
      'div',
      { class: 'toolbar' },
      collectionPicker(api, 'try-collection', (c) => (collection = c)),
    ),
    dropZone({ id: 'try-file', label: 'Drop an image here, or press to choose one', onFiles: (files) => void run(files[0]) }),
    status,
    output,
    summary,
  );
  return () => urls.revoke();
};
