/**
 * The README's runnable examples: each is a fenced `sh` block right after a
 * `<!-- readme-example: NAME -->` marker. The README test runs them; this module only finds them.
 */

export interface ReadmeExample {
  name: string;
  /** The block's text, as a user would paste it. */
  script: string;
}

const MARKED = /<!-- readme-example: ([a-z0-9-]+) -->\r?\n```(?:sh|bash)\r?\n([\s\S]*?)\r?\n```/g;

/** Every marked example in `markdown`, in order. */
export function readmeExamples(markdown: string): ReadmeExample[] {
  return [...markdown.matchAll(MARKED)].map((m) => ({ name: m[1], script: m[2] }));
}

/** `script` pointed at `url` instead of the README's `localhost:8000`; throws if it names no such address. */
export function pointAt(script: string, url: string): string {
  if (!script.includes('localhost:8000')) throw new Error(`example does not talk to localhost:8000:\n${script}`);
  const host = url.replace(/^https?:\/\//, '').replace(/\/$/, '');
  return script.replaceAll('localhost:8000', host);
}
