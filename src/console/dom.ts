/**
 * A tiny element builder. Text always goes in as text nodes (never HTML), so a name such as
 * `<img src=x onerror=...>` shows as those characters; there is no innerHTML anywhere.
 */
export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | undefined | null | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = String(value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replace every child of `el`. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, ...children);
}

/** A time in the browser's own time zone, e.g. "1 Dec 2026, 21:42:05". */
export function localTime(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** A `<time>` element: local time shown, ISO time in `datetime` and the tooltip. */
export function timeEl(iso: string | undefined): HTMLTimeElement {
  return h('time', { datetime: iso ?? '', title: iso ?? '' }, localTime(iso));
}

/** A status line that screen readers announce. */
export function statusLine(cls = 'status'): HTMLParagraphElement {
  return h('p', { class: cls, role: 'status', 'aria-live': 'polite' });
}

/**
 * A drop zone with a file picker inside: drop, click, or Enter/Space on it. `onFiles` gets the
 * chosen image files.
 */
export function dropZone(options: { label: string; multiple?: boolean; id: string; onFiles(files: File[]): void }): HTMLElement {
  const input = h('input', { type: 'file', id: options.id, accept: 'image/*', class: 'visually-hidden', multiple: options.multiple ?? false });
  const zone = h('label', { class: 'drop', for: options.id, tabindex: 0, 'data-testid': `${options.id}-zone` }, h('span', {}, options.label), input);
  const take = (list: FileList | null | undefined) => {
    const files = [...(list ?? [])];
    if (files.length > 0) options.onFiles(files);
  };
  input.addEventListener('change', () => {
    take(input.files);
    input.value = '';
  });
  zone.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      input.click();
    }
  });
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    take(e.dataTransfer?.files);
  });
  return zone;
}

/** Ask before something that cannot be undone; resolves true on confirm. Keyboard: Esc cancels. */
export function confirmDialog(message: string, confirmLabel = 'Remove'): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'confirm', 'aria-label': 'Confirm' });
    const done = (ok: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(ok);
    };
    const yes = h('button', { type: 'button', class: 'danger', onclick: () => done(true) }, confirmLabel);
    const no = h('button', { type: 'button', onclick: () => done(false) }, 'Cancel');
    append(dialog, h('p', {}, message), h('div', { class: 'row' }, no, yes));
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    no.focus();
  });
}
