/**
 * Responses never show where the server keeps its files: the absolute folders of the models, the
 * runs and the working directory are said as "models", "runs" and "." wherever they would appear
 * (an error naming a weights file, the feedback store's path, a run's recorded command line).
 */
import { realpathSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';

export type PathScrubber = (text: string) => string;

export function pathScrubber(folders: { modelsDir: string; runsDir: string; dbPath: string }): PathScrubber {
  const roots = new Map<string, string>();
  const add = (path: string, shown: string) => {
    for (const form of [resolve(path), realOrSelf(resolve(path))]) if (form !== sep && !roots.has(form)) roots.set(form, shown);
  };
  add(folders.modelsDir, 'models');
  add(folders.runsDir, 'runs');
  add(dirname(folders.dbPath), 'runs');
  add(process.cwd(), '.');
  // Longest first, so runs/ inside the working directory is said "runs", not "./runs". A root is
  // replaced only as a whole path: not inside a longer name (/srv/runs2), and not inside base64
  // (a PNG's characters can spell "/app" by chance), whose alphabet holds letters, digits, + / =.
  const ordered = [...roots].sort((a, b) => b[0].length - a[0].length).map(([root, shown]) => [new RegExp(`(?<![\\w+/=.~-])${escapeRegExp(root)}(?![\\w+=.~-])`, 'g'), shown] as const);
  return (text) => {
    let scrubbed = text;
    for (const [root, shown] of ordered) scrubbed = scrubbed.replace(root, shown);
    return scrubbed;
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function realOrSelf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
