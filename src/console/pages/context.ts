import type { Api, Me } from '../api.js';

/** What every page gets: the API client and what the key may do. */
export interface PageContext {
  api: Api;
  me: Me;
  /** Navigate within the console, e.g. `jobs/<id>`. */
  go(route: string): void;
}

/** A page draws itself into `root` and returns its clean-up (timers, object URLs). */
export type Page = (root: HTMLElement, ctx: PageContext, param?: string) => (() => void) | void;

/** Object URLs made for a page, revoked together when it goes. */
export class UrlBag {
  private urls: string[] = [];
  add(blob: Blob): string {
    const url = URL.createObjectURL(blob);
    this.urls.push(url);
    return url;
  }
  revoke(): void {
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
  }
}
