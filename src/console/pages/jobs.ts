import { plainError, type Job } from '../api.js';
import { annotatedImage, faceLabel } from '../boxes.js';
import { h, replace, statusLine, timeEl } from '../dom.js';
import { UrlBag, type Page } from './context.js';

const STATES = ['queued', 'processing', 'done', 'dead-lettered', 'uploaded'];
const PAGE_SIZE = 20;

/** Jobs: a list by state with paging; a job's page is `#/jobs/<id>`. */
export const jobsPage: Page = (root, ctx, param) => {
  if (param) return jobPage(root, ctx, param);
  const { api } = ctx;
  const select = h('select', { id: 'job-state' }, ...STATES.map((s) => h('option', { value: s }, s)));
  const saved = sessionStorage.getItem('facefleet.jobState');
  if (saved && STATES.includes(saved)) select.value = saved;
  const body = h('tbody');
  const status = statusLine();
  const prev = h('button', { type: 'button' }, '← Newer');
  const next = h('button', { type: 'button' }, 'Older →');
  // Cursors of the pages before this one: the store pages forward only.
  const cursors: (string | undefined)[] = [];
  let cursor: string | undefined;
  let nextCursor: string | undefined;

  async function load(): Promise<void> {
    status.textContent = 'Loading…';
    try {
      const page = await api.jobs(select.value, cursor, PAGE_SIZE);
      nextCursor = page.cursor;
      replace(body, ...page.items.map(row));
      status.textContent = page.items.length === 0 ? `No ${select.value} jobs.` : `Page ${cursors.length + 1}: ${page.items.length} job${page.items.length === 1 ? '' : 's'}.`;
      prev.disabled = cursors.length === 0;
      next.disabled = !nextCursor;
    } catch (err) {
      status.textContent = plainError(err);
    }
  }

  function row(job: Job): HTMLElement {
    return h(
      'tr',
      {},
      h('td', {}, h('a', { href: `#/jobs/${job.id}`, class: 'mono' }, job.id.slice(0, 8))),
      h('td', {}, job.kind),
      h('td', {}, h('span', { class: `pill ${job.state}` }, job.state)),
      h('td', {}, `${job.attempts}/${job.maxAttempts}`),
      h('td', {}, timeEl(job.createdAt)),
      h('td', {}, timeEl(job.updatedAt)),
    );
  }

  select.addEventListener('change', () => {
    sessionStorage.setItem('facefleet.jobState', select.value);
    cursors.length = 0;
    cursor = undefined;
    void load();
  });
  prev.addEventListener('click', () => {
    cursor = cursors.pop();
    void load();
  });
  next.addEventListener('click', () => {
    cursors.push(cursor);
    cursor = nextCursor;
    void load();
  });

  replace(
    root,
    h('h1', {}, 'Jobs'),
    h('div', { class: 'toolbar' }, h('div', { class: 'field' }, h('label', { for: 'job-state' }, 'State'), select), h('button', { type: 'button', onclick: () => void load() }, 'Refresh')),
    status,
    h(
      'div',
      { class: 'scroll' },
      h('table', {}, h('thead', {}, h('tr', {}, ...['Job', 'Kind', 'State', 'Attempts', 'Created', 'Updated'].map((t) => h('th', { scope: 'col' }, t)))), body),
    ),
    h('nav', { class: 'pager', 'aria-label': 'Pages' }, prev, next),
  );
  void load();
};

/** One job: its state, its history as a timeline, and its result drawn over its image. */
function jobPage(root: HTMLElement, { api }: Parameters<Page>[1], id: string): () => void {
  const urls = new UrlBag();
  const status = statusLine();
  replace(root, h('p', {}, h('a', { href: '#/jobs' }, '← All jobs')), h('h1', {}, 'Job ', h('span', { class: 'mono' }, id)), status);
  let stopped = false;

  async function load(): Promise<void> {
    try {
      let job = await api.job(id);
      draw(job);
      // A job still running is followed to its end (long-poll, 20 s at a time).
      while (!stopped && job.state !== 'done' && job.state !== 'dead-lettered') {
        job = await api.job(id, 20);
        if (!stopped) draw(job);
      }
    } catch (err) {
      status.textContent = plainError(err);
    }
  }

  function draw(job: Job): void {
    root.querySelectorAll('.job-detail').forEach((e) => e.remove());
    const detail = h(
      'section',
      { class: 'job-detail' },
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'State'), h('dd', {}, h('span', { class: `pill ${job.state}`, 'data-testid': 'job-state' }, job.state)),
        h('dt', {}, 'Kind'), h('dd', {}, job.kind),
        h('dt', {}, 'Attempts'), h('dd', {}, `${job.attempts} of ${job.maxAttempts}`),
        h('dt', {}, 'Created'), h('dd', {}, timeEl(job.createdAt)),
        h('dt', {}, 'Updated'), h('dd', {}, timeEl(job.updatedAt)),
        job.deadLetterReason ? h('dt', {}, 'Dead-letter reason') : null,
        job.deadLetterReason ? h('dd', {}, job.deadLetterReason) : null,
        job.error ? h('dt', {}, 'Last error') : null,
        job.error ? h('dd', {}, `${job.error.code}: ${job.error.message}`) : null,
      ),
      h('h2', {}, 'History'),
      h(
        'ol',
        { class: 'timeline', 'data-testid': 'timeline' },
        ...job.history.map((e) =>
          h(
            'li',
            { class: e.error ? 'has-error' : '' },
            timeEl(e.at),
            h('span', { class: 'move' }, `${e.from ?? '—'} → ${e.to}`),
            h('span', { class: 'event' }, e.event),
            h('span', { class: 'attempt' }, `attempt ${e.attempt}`),
            e.workerId ? h('span', { class: 'worker' }, `worker ${e.workerId}`) : null,
            e.error ? h('span', { class: 'error' }, `${e.error.code}: ${e.error.message}`) : null,
          ),
        ),
      ),
      h('h2', {}, 'Result'),
    );
    const resultArea = h('div', { class: 'result' });
    detail.appendChild(resultArea);
    root.appendChild(detail);
    if (!job.result) {
      resultArea.textContent = job.state === 'done' ? 'No result.' : 'No result yet.';
      return;
    }
    const result = job.result;
    const faces = h('ul', { class: 'faces' }, ...result.faces.map((f) => h('li', {}, faceLabel(f))));
    if (result.enrolled) faces.appendChild(h('li', {}, `enrolled face ${result.enrolled.faceId} as `, result.enrolled.identity));
    resultArea.appendChild(faces);
    api.jobImage(job.id).then(
      (blob) => resultArea.prepend(annotatedImage(urls.add(blob), result, { alt: `input of job ${job.id}` })),
      (err: unknown) => resultArea.prepend(h('p', { class: 'hint' }, `The image is not shown: ${plainError(err)}`)),
    );
  }

  void load();
  return () => {
    stopped = true;
    urls.revoke();
  };
}
