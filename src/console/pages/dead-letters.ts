import { plainError, type DeadLetter } from '../api.js';
import { confirmDialog, h, replace, statusLine, timeEl } from '../dom.js';
import type { Page } from './context.js';

const BATCH = 20;

/** Dead letters: filter by reason and since; replay the selected ones or all that match, with progress. */
export const deadLettersPage: Page = (root, { api }) => {
  const reason = h('input', { id: 'dl-reason', type: 'search', placeholder: 'e.g. max-attempts', maxlength: 200 });
  const since = h('input', { id: 'dl-since', type: 'datetime-local', step: 1 });
  const body = h('tbody');
  const status = statusLine();
  const progress = h('progress', { max: 1, value: 0, hidden: true, 'aria-label': 'Replay progress' });
  const report = statusLine('status report');
  const all = h('input', { type: 'checkbox', id: 'dl-all', 'aria-label': 'Select every dead letter shown' });
  const replaySelected = h('button', { type: 'button' }, 'Replay selected');
  const replayAll = h('button', { type: 'button' }, 'Replay all that match');
  const more = h('button', { type: 'button', hidden: true }, 'Show more');
  let cursor: string | undefined;

  function filter(): { reason?: string; since?: string } {
    const r = reason.value.trim();
    // datetime-local is the browser's local time; the API wants an instant.
    const s = since.value ? new Date(since.value).toISOString() : undefined;
    return { ...(r ? { reason: r } : {}), ...(s ? { since: s } : {}) };
  }

  async function load(append = false): Promise<void> {
    status.textContent = 'Loading…';
    try {
      const page = await api.deadLetters({ ...filter(), cursor: append ? cursor : undefined });
      cursor = page.cursor;
      if (!append) replace(body);
      for (const d of page.items) body.appendChild(row(d));
      const n = body.children.length;
      status.textContent = n === 0 ? 'No dead letters match.' : `${n} dead letter${n === 1 ? '' : 's'} shown${cursor ? ' (more below)' : ''}.`;
      more.hidden = !cursor;
      all.checked = false;
    } catch (err) {
      status.textContent = plainError(err);
    }
  }

  function row(d: DeadLetter): HTMLElement {
    const box = h('input', { type: 'checkbox', class: 'pick', value: d.id, 'aria-label': `Select job ${d.id}` });
    return h(
      'tr',
      { 'data-testid': 'dead-letter' },
      h('td', {}, box),
      h('td', {}, h('a', { href: `#/jobs/${d.id}`, class: 'mono' }, d.id.slice(0, 8))),
      h('td', {}, d.reason),
      h('td', {}, String(d.attempts)),
      h('td', {}, d.lastError ? `${d.lastError.code}: ${d.lastError.message}` : ''),
      h('td', {}, timeEl(d.at)),
    );
  }

  /** Every id that matches the filter, page by page. */
  async function everyId(): Promise<string[]> {
    const ids: string[] = [];
    let c: string | undefined;
    do {
      const page = await api.deadLetters({ ...filter(), cursor: c, limit: 100 });
      ids.push(...page.items.map((d) => d.id));
      c = page.cursor;
    } while (c);
    return ids;
  }

  async function replay(ids: string[]): Promise<void> {
    if (ids.length === 0) {
      report.textContent = 'Nothing selected.';
      return;
    }
    if (!(await confirmDialog(`Replay ${ids.length} job${ids.length === 1 ? '' : 's'}? Each goes back to the queue with a fresh attempt budget.`, 'Replay'))) return;
    progress.hidden = false;
    progress.max = ids.length;
    progress.value = 0;
    let replayed = 0;
    const problems: string[] = [];
    for (let i = 0; i < ids.length; i += BATCH) {
      const batch = ids.slice(i, i + BATCH);
      try {
        const r = await api.replay(batch);
        replayed += r.replayed;
        for (const s of r.skipped) problems.push(`${s.id.slice(0, 8)} is ${s.state}`);
        for (const f of r.failed) problems.push(`${f.id.slice(0, 8)}: ${f.error.message}`);
        for (const id of r.notFound) problems.push(`${id.slice(0, 8)} not found`);
      } catch (err) {
        problems.push(plainError(err));
      }
      progress.value = Math.min(ids.length, i + batch.length);
      report.textContent = `Replayed ${replayed} of ${ids.length}…`;
    }
    report.textContent = `Replayed ${replayed} of ${ids.length}.${problems.length ? ` Not replayed: ${problems.join('; ')}` : ''}`;
    await load();
  }

  all.addEventListener('change', () => body.querySelectorAll<HTMLInputElement>('input.pick').forEach((b) => (b.checked = all.checked)));
  replaySelected.addEventListener('click', () => void replay([...body.querySelectorAll<HTMLInputElement>('input.pick:checked')].map((b) => b.value)));
  replayAll.addEventListener('click', async () => {
    try {
      await replay(await everyId());
    } catch (err) {
      report.textContent = plainError(err);
    }
  });
  more.addEventListener('click', () => void load(true));
  const form = h(
    'form',
    { class: 'toolbar', role: 'search' },
    h('div', { class: 'field' }, h('label', { for: 'dl-reason' }, 'Reason contains'), reason),
    h('div', { class: 'field' }, h('label', { for: 'dl-since' }, 'Since (local time)'), since),
    h('button', { type: 'submit' }, 'Filter'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void load();
  });

  replace(
    root,
    h('h1', {}, 'Dead letters'),
    form,
    status,
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, all), ...['Job', 'Reason', 'Attempts', 'Last error', 'Dead-lettered'].map((t) => h('th', { scope: 'col' }, t)))),
        body,
      ),
    ),
    more,
    h('div', { class: 'row' }, replaySelected, replayAll, progress),
    report,
  );
  void load();
};
