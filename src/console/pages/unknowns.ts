import { DEFAULT_COLLECTION, plainError, type UnknownSummary } from '../api.js';
import { confirmDialog, h, replace, statusLine, timeEl } from '../dom.js';
import { collectionPicker } from './collection-picker.js';
import { UrlBag, type Page } from './context.js';

const NAME = /^[A-Za-z0-9 ._'-]{1,64}$/;

/**
 * Unknowns (operators): a collection's anonymous clusters with thumbnails; name one (with the
 * collection's identities offered as completions), merge the selected ones, or forget one.
 */
export const unknownsPage: Page = (root, { api }) => {
  const urls = new UrlBag();
  let collection = DEFAULT_COLLECTION;
  const list = h('div', { class: 'identities', 'data-testid': 'unknowns' });
  const status = statusLine();
  const names = h('datalist', { id: 'unknown-names' });
  const selected = new Set<string>();
  const merge = h('button', { type: 'button', disabled: true }, 'Merge selected');
  const syncMerge = () => {
    merge.disabled = selected.size < 2;
    merge.textContent = selected.size >= 2 ? `Merge ${selected.size} selected` : 'Merge selected';
  };
  merge.addEventListener('click', async () => {
    const ids = [...selected];
    if (ids.length < 2 || !(await confirmDialog(`Merge ${ids.length} clusters into one? Their faces and sightings are kept together.`, 'Merge'))) return;
    try {
      await api.mergeUnknowns(collection, ids);
      status.textContent = `Merged ${ids.length} clusters.`;
      await load();
    } catch (err) {
      status.textContent = plainError(err);
    }
  });

  async function load(): Promise<void> {
    status.textContent = 'Loading…';
    selected.clear();
    syncMerge();
    try {
      const [{ items }, known] = await Promise.all([api.unknowns(collection), api.identities(collection).catch(() => ({ items: [] }))]);
      urls.revoke();
      replace(names, ...known.items.map((i) => h('option', { value: i.name })));
      status.textContent = items.length === 0 ? 'No unknown faces remembered here (is trackUnknowns on for this collection?).' : `${items.length} unknown cluster(s).`;
      replace(list, ...items.map(card));
    } catch (err) {
      status.textContent = plainError(err);
    }
  }

  function card(u: UnknownSummary): HTMLElement {
    const thumbs = h('ul', { class: 'thumbs', 'aria-label': `Faces of ${u.id}` });
    for (const link of u.links.thumbnails.slice(0, 4)) {
      const img = h('img', { alt: `A face of ${u.id}`, width: 56, height: 56 });
      thumbs.append(h('li', {}, img));
      api.unknownThumbnail(link).then(
        (blob) => (img.src = urls.add(blob)),
        () => img.setAttribute('alt', 'no thumbnail'),
      );
    }
    const pick = h('input', { type: 'checkbox', 'aria-label': `Select ${u.id}` });
    pick.addEventListener('change', () => {
      if (pick.checked) selected.add(u.id);
      else selected.delete(u.id);
      syncMerge();
    });
    const name = h('input', { maxlength: 64, placeholder: 'Name', 'aria-label': `Name ${u.id}`, autocomplete: 'off', list: 'unknown-names' });
    const named = h('button', { type: 'button', class: 'small' }, 'Name');
    named.addEventListener('click', async () => {
      const value = name.value.trim();
      if (!NAME.test(value)) {
        status.textContent = "Names are 1-64 letters, digits, spaces and . _ ' -";
        return;
      }
      try {
        await api.nameUnknown(collection, u.id, value);
        status.textContent = `${u.id} is now ${value}.`;
        await load();
      } catch (err) {
        status.textContent = plainError(err);
      }
    });
    const forget = h('button', { type: 'button', class: 'danger small', 'aria-label': `Forget ${u.id}` }, 'Forget');
    forget.addEventListener('click', async () => {
      if (!(await confirmDialog(`Forget ${u.id}? Its faces, thumbnails and sightings are deleted.`, 'Forget'))) return;
      try {
        await api.forgetUnknown(collection, u.id);
        await load();
      } catch (err) {
        status.textContent = plainError(err);
      }
    });
    return h(
      'section',
      { class: 'identity', 'data-testid': 'unknown-card', 'data-id': u.id },
      h('h2', { class: 'mono' }, h('label', {}, pick, ' ', u.id)),
      h('p', {}, h('span', { 'data-testid': 'sightings' }, `${u.sightings} sighting${u.sightings === 1 ? '' : 's'}`), ', first ', timeEl(u.firstSeen), ', last ', timeEl(u.lastSeen)),
      thumbs,
      h('div', { class: 'toolbar' }, name, named, forget),
    );
  }

  replace(
    root,
    h('h1', {}, 'Unknowns'),
    h('p', { class: 'hint' }, 'Faces nobody enrolled, remembered under anonymous ids in collections with trackUnknowns on. Name a cluster to recognise that person from now on.'),
    h('div', { class: 'toolbar' }, collectionPicker(api, 'unknowns-collection', (c) => {
      collection = c;
      void load();
    }), merge),
    status,
    names,
    list,
  );
  return () => urls.revoke();
};
