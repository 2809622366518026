import { plainError, type FleetStatus } from '../api.js';
import { h, localTime, replace, statusLine } from '../dom.js';
import type { Page } from './context.js';

const WINDOW_MS = 10 * 60 * 1000;
/** Samples further apart than this are not joined by a line. */
const GAP_MS = 5_000;
const HISTORY_KEY = 'facefleet.fleetHistory';
const SVG = 'http://www.w3.org/2000/svg';

/** One chart sample. */
interface Sample { t: number; visible: number; inFlight: number; delayed: number; busy: number; workers: number }

const SERIES: { key: keyof Omit<Sample, 't'>; label: string; cls: string }[] = [
  { key: 'visible', label: 'visible', cls: 's-visible' },
  { key: 'inFlight', label: 'in flight', cls: 's-inflight' },
  { key: 'delayed', label: 'delayed', cls: 's-delayed' },
  { key: 'workers', label: 'workers', cls: 's-workers' },
  { key: 'busy', label: 'busy workers', cls: 's-busy' },
];

function loadHistory(): Sample[] {
  try {
    const raw = JSON.parse(sessionStorage.getItem(HISTORY_KEY) ?? '[]') as Sample[];
    return Array.isArray(raw) ? raw.filter((s) => typeof s.t === 'number' && Date.now() - s.t <= WINDOW_MS) : [];
  } catch {
    return [];
  }
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** A line chart of the last ten minutes, drawn as SVG (no library). */
function chart(samples: Sample[]): SVGSVGElement {
  const W = 1000;
  const H = 200;
  const now = Date.now();
  // Whole numbers on the axis: the top is a multiple of 4, at least 4.
  const max = 4 * Math.ceil(Math.max(4, ...samples.flatMap((s) => SERIES.map((x) => s[x.key]))) / 4);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H + 20}`, class: 'chart', role: 'img', 'aria-label': 'Queue depth and workers over the last 10 minutes' });
  for (let i = 0; i <= 4; i++) {
    const y = H - (H * i) / 4;
    root.appendChild(svg('line', { x1: 0, x2: W, y1: y, y2: y, class: 'grid' }));
    const label = svg('text', { x: 2, y: y - 2, class: 'axis' });
    label.textContent = String((max * i) / 4);
    root.appendChild(label);
  }
  for (const [i, text] of ['-10 min', '-5 min', 'now'].entries()) {
    const t = svg('text', { x: (W * i) / 2, y: H + 16, class: 'axis', 'text-anchor': ['start', 'middle', 'end'][i] });
    t.textContent = text;
    root.appendChild(t);
  }
  // While the page was not open nothing was sampled: the line breaks there rather than guess.
  const runs: Sample[][] = [];
  for (const p of samples) {
    const run = runs[runs.length - 1];
    if (run && p.t - run[run.length - 1].t <= GAP_MS) run.push(p);
    else runs.push([p]);
  }
  for (const s of SERIES) {
    for (const run of runs) {
      const pts = run.map((p) => `${((W * (WINDOW_MS - (now - p.t))) / WINDOW_MS).toFixed(1)},${(H - (H * p[s.key]) / max).toFixed(1)}`);
      root.appendChild(svg('polyline', { points: pts.join(' '), class: `line ${s.cls}` }));
    }
  }
  return root;
}

function tile(label: string, value: string | number, testid: string): HTMLElement {
  return h('div', { class: 'tile' }, h('span', { class: 'tile-label' }, label), h('span', { class: 'tile-value', 'data-testid': testid }, String(value)));
}

/** Fleet: live queue depth, workers, scaler and breakers (polled once a second), and a 10-minute chart. */
export const fleetPage: Page = (root, { api }) => {
  const history = loadHistory();
  const tiles = h('div', { class: 'tiles' });
  const states = h('div', { class: 'states' });
  const chartBox = h('div', { class: 'chart-box' });
  const legend = h('ul', { class: 'legend' }, ...SERIES.map((s) => h('li', { class: s.cls }, s.label)));
  const workers = h('tbody');
  const status = statusLine();
  let timer: number | undefined;
  let stopped = false;

  function draw(f: FleetStatus): void {
    const q = f.queue;
    const w = f.workers;
    replace(
      tiles,
      tile('Visible', q?.visible ?? '–', 'queue-visible'),
      tile('In flight', q?.inFlight ?? '–', 'queue-inflight'),
      tile('Delayed', q?.delayed ?? '–', 'queue-delayed'),
      tile('Dead letters', q?.deadLetters ?? '–', 'queue-dead'),
      tile('Workers', w ? w.busy + w.idle : '–', 'workers-total'),
      tile('Busy', w?.busy ?? '–', 'workers-busy'),
      tile('Idle', w?.idle ?? '–', 'workers-idle'),
    );
    const c = f.controller;
    replace(
      states,
      h('p', {}, 'Scaler: ', h('strong', { 'data-testid': 'scaler-state' }, c?.scaler ?? 'not in this process'), c ? ` (wants ${c.desired ?? '?'}, running ${c.running ?? '?'}, booting ${c.pending ?? '?'})` : ''),
      h('p', {}, 'Breakers: ', ...Object.entries(f.breakers).flatMap(([name, state]) => [h('span', { class: `pill breaker-${state}` }, `${name} ${state}`), ' '])),
      Object.keys(f.errors).length ? h('p', { class: 'error' }, `Not read: ${Object.entries(f.errors).map(([k, v]) => `${k} (${v})`).join(', ')}`) : null,
    );
    replace(
      workers,
      ...(w?.items ?? []).map((x) =>
        h('tr', {}, h('td', { class: 'mono' }, x.workerId), h('td', {}, x.busy ? 'busy' : 'idle'), h('td', {}, x.jobId ? h('a', { href: `#/jobs/${x.jobId}`, class: 'mono' }, x.jobId.slice(0, 8)) : ''), h('td', {}, String(x.jobsDone)), h('td', {}, localTime(x.at))),
      ),
    );
    history.push({ t: Date.parse(f.at) || Date.now(), visible: q?.visible ?? 0, inFlight: q?.inFlight ?? 0, delayed: q?.delayed ?? 0, busy: w?.busy ?? 0, workers: w ? w.busy + w.idle : 0 });
    while (history.length > 0 && Date.now() - history[0].t > WINDOW_MS) history.shift();
    sessionStorage.setItem(HISTORY_KEY, JSON.stringify(history));
    replace(chartBox, chart(history));
    status.textContent = `Updated ${localTime(f.at)}`;
  }

  async function poll(): Promise<void> {
    const started = Date.now();
    try {
      draw(await api.fleet());
    } catch (err) {
      status.textContent = plainError(err);
    }
    // At most once a second, and never two requests at once.
    if (!stopped) timer = window.setTimeout(() => void poll(), Math.max(0, 1000 - (Date.now() - started)));
  }

  replace(
    root,
    h('h1', {}, 'Fleet'),
    status,
    tiles,
    states,
    h('section', { 'aria-labelledby': 'chart-title' }, h('h2', { id: 'chart-title' }, 'Last 10 minutes'), chartBox, legend),
    h(
      'section',
      { 'aria-labelledby': 'workers-title' },
      h('h2', { id: 'workers-title' }, 'Workers'),
      h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, ...['Worker', 'State', 'Job', 'Jobs done', 'Last heartbeat'].map((t) => h('th', { scope: 'col' }, t)))), workers)),
    ),
  );
  void poll();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
};
