import { DEFAULT_COLLECTION, plainError, type Api } from '../api.js';
import { h } from '../dom.js';

/**
 * A labelled collection `<select>`, filled from `GET /v1/collections` (just `default` on a server
 * without collections). Calls `onChange` with the first collection once loaded, then on each change.
 */
export function collectionPicker(api: Api, id: string, onChange: (collection: string) => void): HTMLElement {
  const select = h('select', { id, name: 'collection' }, h('option', { value: DEFAULT_COLLECTION }, DEFAULT_COLLECTION));
  const note = h('span', { class: 'hint' });
  select.addEventListener('change', () => onChange(select.value));
  api.collections().then(
    (names) => {
      select.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
      select.disabled = names.length < 2;
      onChange(select.value);
    },
    (err: unknown) => {
      note.textContent = plainError(err);
      onChange(DEFAULT_COLLECTION);
    },
  );
  return h('div', { class: 'field' }, h('label', { for: id }, 'Collection'), select, note);
}
