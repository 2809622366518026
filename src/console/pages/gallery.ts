import { ApiError, DEFAULT_COLLECTION, plainError, type Identity } from '../api.js';
import { annotatedImage, cropFace } from '../boxes.js';
import { confirmDialog, dropZone, h, replace, statusLine, timeEl } from '../dom.js';
import { collectionPicker } from './collection-picker.js';
import { UrlBag, type Page } from './context.js';

const NAME = /^[A-Za-z0-9 ._'-]{1,64}$/;
const ENROLL_CONCURRENCY = 4;

/** Gallery: identities with their faces; enroll by dropping images; remove after a confirmation. */
export const galleryPage: Page = (root, ctx) => {
  const { api } = ctx;
  const urls = new UrlBag();
  let collection = DEFAULT_COLLECTION;
  const list = h('div', { class: 'identities', 'data-testid': 'identities' });
  const listStatus = statusLine();
  const names = h('datalist', { id: 'identity-names' });
  const nameInput = h('input', { id: 'enroll-name', name: 'name', list: 'identity-names', required: true, maxlength: 64, autocomplete: 'off', placeholder: 'e.g. Sheldon' });
  const outcomes = h('ul', { class: 'outcomes', 'aria-label': 'Enrollment outcomes', 'data-testid': 'outcomes' });

  async function load(): Promise<void> {
    listStatus.textContent = 'Loading…';
    try {
      const { items } = await api.identities(collection);
      urls.revoke();
      replace(names, ...items.map((i) => h('option', { value: i.name })));
      listStatus.textContent = items.length === 0 ? 'No identities yet: enroll someone above.' : `${items.length} identit${items.length === 1 ? 'y' : 'ies'}.`;
      replace(list, ...items.map((i) => identityCard(i)));
    } catch (err) {
      listStatus.textContent = plainError(err);
    }
  }

  function identityCard(identity: Identity): HTMLElement {
    const faces = h('ul', { class: 'thumbs', 'aria-label': `Faces of ${identity.name}` });
    const remove = h('button', { type: 'button', class: 'danger small' }, 'Remove identity');
    remove.setAttribute('aria-label', `Remove identity ${identity.name}`);
    remove.addEventListener('click', async () => {
      if (!(await confirmDialog(`Remove ${identity.name} and all ${identity.faceCount} of their faces? This cannot be undone.`))) return;
      try {
        await api.removeIdentity(collection, identity.name);
        await load();
      } catch (err) {
        listStatus.textContent = plainError(err);
      }
    });
    const card = h(
      'article',
      { class: 'identity', 'data-testid': 'identity' },
      h('header', {}, h('h3', { class: 'name' }, identity.name), h('span', { class: 'count' }, `${identity.faceCount} face${identity.faceCount === 1 ? '' : 's'}`)),
      faces,
      h('footer', {}, h('span', { class: 'hint' }, 'since ', timeEl(identity.createdAt)), remove),
    );
    void loadFaces(identity, faces);
    return card;
  }

  async function loadFaces(identity: Identity, into: HTMLElement): Promise<void> {
    try {
      const { items } = await api.faces(collection, identity.name);
      for (const face of items) {
        const img = h('img', { alt: `${identity.name}, face ${face.id.slice(0, 8)}`, width: 56, height: 56, class: 'thumb' });
        const li = h('li', {}, img);
        if (api.hasCollections) {
          // Removing one face needs the collections API; the default-only server has no such route.
          const del = h('button', { type: 'button', class: 'icon', 'aria-label': `Remove this face of ${identity.name}` }, '×');
          del.addEventListener('click', async () => {
            if (!(await confirmDialog(`Remove this face of ${identity.name}?`))) return;
            try {
              await api.removeFace(collection, identity.name, face.id);
              await load();
            } catch (err) {
              listStatus.textContent = plainError(err);
            }
          });
          li.appendChild(del);
        }
        into.appendChild(li);
        api.thumbnail(collection, identity.name, face.id).then(
          (blob) => (img.src = urls.add(blob)),
          () => img.classList.add('missing'),
        );
      }
    } catch {
      into.appendChild(h('li', { class: 'hint' }, 'faces not available'));
    }
  }

  async function enrollOne(file: File, name: string): Promise<void> {
    const state = h('span', { class: 'state' }, 'enrolling…');
    const item = h('li', { 'data-testid': 'outcome' }, h('span', { class: 'file' }, file.name), ' ', state);
    outcomes.appendChild(item);
    try {
      await api.enroll(collection, name, file, { filename: file.name });
      state.textContent = `enrolled as ${name}`;
      item.classList.add('ok');
    } catch (err) {
      if (err instanceof ApiError && err.code === 'multiple-faces') {
        state.textContent = 'several faces: pick the one to enroll';
        await offerPick(file, name, item, state);
        return;
      }
      state.textContent = plainError(err);
      item.classList.add('failed');
    }
  }

  /** Show the photo with its faces boxed; the picked face is cut out and enrolled on its own. */
  async function offerPick(file: File, name: string, item: HTMLElement, state: HTMLElement): Promise<void> {
    try {
      const job = await api.recognize(file, { collection, filename: file.name });
      if (!job.result) throw new Error('the faces could not be found');
      const figure = annotatedImage(urls.add(file), job.result, {
        alt: file.name,
        onPick: async (face) => {
          state.textContent = 'enrolling the picked face…';
          try {
            const crop = await cropFace(figure.querySelector('img')!, face.box);
            await api.enroll(collection, name, crop, { largest: true, filename: file.name });
            state.textContent = `enrolled as ${name}`;
            item.classList.add('ok');
            figure.remove();
            await load();
          } catch (err) {
            state.textContent = plainError(err);
          }
        },
      });
      item.appendChild(figure);
    } catch (err) {
      state.textContent = plainError(err);
      item.classList.add('failed');
    }
  }

  const formStatus = statusLine();
  const zone = dropZone({
    id: 'enroll-files',
    multiple: true,
    label: 'Drop one or more photos of this person here, or press to choose',
    onFiles: async (files) => {
      const name = nameInput.value.trim();
      if (!NAME.test(name)) {
        formStatus.textContent = "Enter a name first: 1 to 64 letters, digits, spaces or . _ ' -";
        nameInput.focus();
        return;
      }
      formStatus.textContent = `Enrolling ${files.length} image${files.length === 1 ? '' : 's'} as ${name}…`;
      // A few at a time: the queue keeps a worker busy without one upload per image at once.
      const queue = [...files];
      await Promise.all(Array.from({ length: Math.min(ENROLL_CONCURRENCY, queue.length) }, async () => {
        for (let f = queue.shift(); f; f = queue.shift()) await enrollOne(f, name);
      }));
      formStatus.textContent = `Finished ${files.length} image${files.length === 1 ? '' : 's'}.`;
      await load();
    },
  });

  replace(
    root,
    h('h1', {}, 'Gallery'),
    h('div', { class: 'toolbar' }, collectionPicker(api, 'gallery-collection', (c) => {
      collection = c;
      void load();
    })),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'enroll-title' },
      h('h2', { id: 'enroll-title' }, 'Enroll'),
      h('div', { class: 'field' }, h('label', { for: 'enroll-name' }, 'Name'), nameInput, names),
      zone,
      formStatus,
      outcomes,
    ),
    h('section', { 'aria-labelledby': 'ids-title' }, h('h2', { id: 'ids-title' }, 'Identities'), listStatus, list),
  );
  return () => urls.revoke();
};
