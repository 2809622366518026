/**
 * Headless Chromium for the console's browser tests, driven by playwright-core with Debian's
 * `chromium` (or `CHROME_PATH`). Nothing is downloaded: without a Chromium the tests are
 * skipped with the line that enables them, except under `CI=true`, where that is a failure.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';

export const ENABLE_LINE = 'apt-get install -y chromium   # or set CHROME_PATH to a Chromium/Chrome binary';

/** Launch flags: no network chatter, no GPU, no sandbox (containers), no first-run UI. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The Chromium to drive: `CHROME_PATH`, else `chromium` on PATH, else /usr/bin/chromium; undefined if none. */
export function findChromium(): string | undefined {
  const fromEnv = process.env.CHROME_PATH;
  if (fromEnv) return fs.existsSync(fromEnv) ? fromEnv : undefined;
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      const found = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
      if (found) return found;
    } catch {
      // not on PATH
    }
  }
  return fs.existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined;
}

/** True when CI asks for every suite to run (a missing browser is then a failure). */
export const IN_CI = process.env.CI === 'true';

export interface BrowserScope {
  context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** A fresh profile in a temp dir, removed on close. */
export async function launchChromium(executablePath: string, viewport = { width: 1280, height: 900 }): Promise<BrowserScope> {
  const profile = await fsp.mkdtemp(path.join(os.tmpdir(), 'ff-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport,
    timezoneId: 'Europe/Berlin',
    locale: 'en-GB',
  });
  return {
    context,
    newPage: () => context.newPage(),
    async close() {
      await context.close().catch(() => undefined);
      await fsp.rm(profile, { recursive: true, force: true });
    },
  };
}

/** Where failure screenshots go: `test-results/console/`, next to the test report. */
export const SCREENSHOT_DIR = path.resolve(process.cwd(), 'test-results', 'console');

export async function failureScreenshot(page: Page | undefined, name: string): Promise<string | undefined> {
  if (!page || page.isClosed()) return undefined;
  await fsp.mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 80)}.png`);
  await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
  return file;
}

/** The page-side globals `dropFiles` uses. */
interface BrowserGlobals {
  DataTransfer: new () => { items: { add(file: File): void } };
  DragEvent: new (type: string, init: { dataTransfer: unknown; bubbles: boolean; cancelable: boolean }) => Event;
}

/**
 * Drop files on an element as a user would: a real `drop` event whose DataTransfer holds them.
 * (Playwright's setInputFiles picks files; this exercises the drop path.)
 */
export async function dropFiles(page: Page, selector: string, files: { name: string; type: string; data: Buffer }[]): Promise<void> {
  const payload = files.map((f) => ({ name: f.name, type: f.type, b64: f.data.toString('base64') }));
  await page.locator(selector).evaluate((el, list) => {
    // Runs in the page: the browser's globals, which Node's types do not describe.
    const w = globalThis as unknown as BrowserGlobals;
    const dt = new w.DataTransfer();
    for (const f of list) {
      const bin = atob(f.b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      dt.items.add(new File([bytes], f.name, { type: f.type }));
    }
    el.dispatchEvent(new w.DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    el.dispatchEvent(new w.DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, payload);
}

/** A screenshot made small enough for a README: 1024 px wide, 256-colour PNG. */
export function shrinkScreenshot(png: Buffer): Promise<Buffer> {
  return sharp(png).resize({ width: 1024 }).png({ palette: true, quality: 90, compressionLevel: 9 }).toBuffer();
}
