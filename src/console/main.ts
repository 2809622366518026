import { Api, ApiError, plainError, type Me } from './api.js';
import { h, replace } from './dom.js';
import type { Page, PageContext } from './pages/context.js';
import { deadLettersPage } from './pages/dead-letters.js';
import { fleetPage } from './pages/fleet.js';
import { galleryPage } from './pages/gallery.js';
import { jobsPage } from './pages/jobs.js';
import { keysPage } from './pages/keys.js';
import { tryItPage } from './pages/try-it.js';
import { unknownsPage } from './pages/unknowns.js';

interface Route { path: string; title: string; page: Page; operator: boolean; hidden?: boolean }

/** The pages in nav order. */
const ROUTES: Route[] = [
  { path: 'try', title: 'Try it', page: tryItPage, operator: false },
  { path: 'gallery', title: 'Gallery', page: galleryPage, operator: true },
  { path: 'unknowns', title: 'Unknowns', page: unknownsPage, operator: true },
  { path: 'jobs', title: 'Jobs', page: jobsPage, operator: true },
  { path: 'dead-letters', title: 'Dead letters', page: deadLettersPage, operator: true },
  { path: 'fleet', title: 'Fleet', page: fleetPage, operator: true },
  { path: 'keys', title: 'Keys', page: keysPage, operator: true },
];

const api = new Api();
const nav = document.getElementById('nav')!;
const main = document.getElementById('main')!;
const keyDialog = document.getElementById('key-dialog') as HTMLDialogElement;
const keyForm = document.getElementById('key-form') as HTMLFormElement;
const keyInput = document.getElementById('key-input') as HTMLInputElement;
const keyMessage = document.getElementById('key-message')!;
const signOut = document.getElementById('sign-out') as HTMLButtonElement;

let me: Me | undefined;
let cleanup: (() => void) | void;

function allowed(route: Route): boolean {
  return !route.hidden && (!route.operator || me?.role === 'operator');
}

function drawNav(current: string): void {
  replace(
    nav,
    ...ROUTES.filter(allowed).map((r) =>
      h('a', { href: `#/${r.path}`, 'aria-current': r.path === current ? 'page' : undefined }, r.title),
    ),
  );
  signOut.hidden = !api.key;
}

function parseHash(): { path: string; param?: string } {
  const [path, ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  return { path: path || 'try', param: rest.length ? decodeURIComponent(rest.join('/')) : undefined };
}

function show(): void {
  if (!me) return;
  const { path, param } = parseHash();
  const route = ROUTES.find((r) => r.path === path && allowed(r)) ?? ROUTES[0];
  drawNav(route.path);
  if (typeof cleanup === 'function') cleanup();
  document.title = `${route.title} · facefleet`;
  const context: PageContext = { api, me, go: (r) => (location.hash = `#/${r}`) };
  main.replaceChildren();
  cleanup = route.page(main, context, route.path === path ? param : undefined);
  main.focus({ preventScroll: true });
}

/** Ask for a key; the console keeps it in sessionStorage only (gone when the tab closes). */
function askForKey(message: string): void {
  keyMessage.textContent = message;
  keyInput.value = '';
  if (!keyDialog.open) keyDialog.showModal();
  keyInput.focus();
}

async function start(): Promise<void> {
  try {
    me = await api.me();
    show();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) askForKey(api.key ? 'That key was not accepted. Enter another.' : 'This server needs an API key.');
    else replace(main, h('p', { class: 'error' }, plainError(err)));
  }
}

api.onAuthProblem((status) => {
  if (status === 401) {
    api.key = null;
    me = undefined;
    askForKey('Your key is no longer accepted. Enter a key to continue.');
  } else {
    askForKey("Your key's role may not do that. Enter an operator key, or go on with this one.");
  }
});

keyForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const value = keyInput.value.trim();
  if (!value) return;
  api.key = value;
  keyDialog.close();
  void start();
});
keyDialog.addEventListener('cancel', (e) => {
  // Without a key nothing works; with one (a 403) the user may go on with it.
  if (!me) e.preventDefault();
});
document.getElementById('key-cancel')!.addEventListener('click', () => {
  if (me) keyDialog.close();
});
signOut.addEventListener('click', () => {
  api.key = null;
  me = undefined;
  location.hash = '#/try';
  void start();
});
window.addEventListener('hashchange', show);
void start();
