import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Every file under `dir` (recursively) that contains one of `needles`, as `file: needle label`.
 * Used to prove that deleted data left no bytes behind: SQLite files (the -wal included) and blobs.
 */
export async function filesContaining(dir: string, needles: Record<string, Buffer>): Promise<string[]> {
  const found: string[] = [];
  const walk = async (at: string): Promise<void> => {
    for (const entry of await fs.readdir(at, { withFileTypes: true })) {
      const file = path.join(at, entry.name);
      if (entry.isDirectory()) await walk(file);
      else if (entry.isFile()) {
        const bytes = await fs.readFile(file);
        for (const [label, needle] of Object.entries(needles)) {
          if (needle.length > 0 && bytes.includes(needle)) found.push(`${path.relative(dir, file)}: ${label}`);
        }
      }
    }
  };
  await walk(dir);
  return found;
}
