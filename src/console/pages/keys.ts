import { plainError, type ApiKeySummary } from '../api.js';
import { confirmDialog, h, replace, statusLine, timeEl } from '../dom.js';
import type { Page } from './context.js';

/** Keys (operators): create one (its secret is shown once), list them, revoke one. */
export const keysPage: Page = (root, { api }) => {
  const body = h('tbody');
  const status = statusLine();
  const created = h('div', { class: 'created', 'aria-live': 'polite' });
  const role = h('select', { id: 'key-role' }, h('option', { value: 'client' }, 'client'), h('option', { value: 'operator' }, 'operator'));
  const name = h('input', { id: 'key-name', maxlength: 64, placeholder: 'e.g. photo-app' });

  async function load(): Promise<void> {
    try {
      const { items } = await api.keys();
      replace(body, ...items.map(row));
      status.textContent = `${items.filter((k) => !k.revokedAt).length} active key(s), ${items.filter((k) => k.revokedAt).length} revoked.`;
    } catch (err) {
      status.textContent = plainError(err);
    }
  }

  function row(k: ApiKeySummary): HTMLElement {
    const revoke = h('button', { type: 'button', class: 'danger small', 'aria-label': `Revoke key ${k.id}` }, 'Revoke');
    revoke.addEventListener('click', async () => {
      if (!(await confirmDialog(`Revoke key ${k.id}${k.name ? ` (${k.name})` : ''}? Clients using it stop working.`, 'Revoke'))) return;
      try {
        await api.revokeKey(k.id);
        await load();
      } catch (err) {
        status.textContent = plainError(err);
      }
    });
    return h(
      'tr',
      {},
      h('td', { class: 'mono' }, k.id),
      h('td', {}, k.name ?? ''),
      h('td', {}, k.role),
      h('td', {}, timeEl(k.createdAt)),
      h('td', {}, k.revokedAt ? h('span', {}, 'revoked ', timeEl(k.revokedAt)) : revoke),
    );
  }

  const form = h(
    'form',
    { class: 'toolbar' },
    h('div', { class: 'field' }, h('label', { for: 'key-role' }, 'Role'), role),
    h('div', { class: 'field' }, h('label', { for: 'key-name' }, 'Name (optional)'), name),
    h('button', { type: 'submit' }, 'Create key'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const k = await api.createKey(role.value, name.value.trim() || undefined);
      const out = h('input', { readonly: true, value: k.key, id: 'new-key', class: 'mono wide', 'aria-label': 'The new key' });
      replace(created, h('p', {}, h('strong', {}, 'Copy this key now: it is shown only once.')), out);
      out.select();
      name.value = '';
      await load();
    } catch (err) {
      replace(created, h('p', { class: 'error' }, plainError(err)));
    }
  });

  replace(
    root,
    h('h1', {}, 'API keys'),
    form,
    created,
    status,
    h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ...['Key id', 'Name', 'Role', 'Created', ''].map((t) => h('th', { scope: 'col' }, t)))), body)),
  );
  void load();
};
