/**
 * The models the studio offers: every folder with a config.json in the models folder, then in the
 * runs folder (training jobs' output). It rescans on every request — a folder is a few stat calls —
 * so a model added, retrained or deleted under the running server shows up as it is now.
 *
 * Names are folder names only; a name is looked up by listing, never joined into a path, so no
 * request can reach outside the two folders (symbolic links that point elsewhere are refused too).
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { parseManifest, type CheckpointManifest } from '../io/checkpoint.ts';
import { fileKind } from '../io/regular-file.ts';
import type { Capability } from '../models/family.ts';
import { capabilitiesOf, familyNamed } from '../models/registry.ts';
import { HttpError } from './http-errors.ts';

export interface ModelSummary {
  name: string;
  family: string;
  source: 'models' | 'runs';
  summary: string;
  trainedSteps: number;
  capabilities: Capability[];
}

export interface CatalogEntry extends ModelSummary {
  dir: string;
  manifest: CheckpointManifest;
  /** Changes whenever the weights or config are rewritten: the key loaded models are cached under. */
  version: string;
}

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A folder that looks like a model (config.json and weights) but cannot be offered, and why. */
interface BrokenEntry {
  broken: string;
}

function readEntry(root: string, name: string, source: 'models' | 'runs'): CatalogEntry | BrokenEntry | undefined {
  const dir = join(root, name);
  const configPath = join(dir, 'config.json');
  const weightsPath = join(dir, 'model.safetensors');
  // Files are named to clients relative to the folder they are in ("models/x/config.json"), never by the server's absolute path.
  const shown = `${source}/${name}`;
  try {
    if (!statSync(dir).isDirectory() || !existsSync(configPath) || !existsSync(weightsPath)) return undefined;
    const real = realpathSync(dir);
    const realRoot = realpathSync(root);
    if (!real.startsWith(realRoot + sep)) return undefined;
    // stat before reading: a FIFO named config.json would block this thread (the whole server) when opened.
    const [configStats, weightsStats] = [statSync(configPath), statSync(weightsPath)];
    for (const [stats, file] of [[configStats, 'config.json'], [weightsStats, 'model.safetensors']] as const) {
      if (!stats.isFile()) return { broken: `${shown}/${file} is not a regular file (it is ${fileKind(stats)})` };
    }
    const manifest = parseManifest(readFileSync(configPath, 'utf8'), `${shown}/config.json`);
    if (!isRecord(manifest.config) || !isRecord(manifest.training)) return { broken: `${shown}/config.json has no "config" and "training" objects` };
    const version = `${configStats.mtimeMs}:${weightsStats.mtimeMs}:${weightsStats.size}`;
    const family = familyNamed(manifest.family);
    return {
      name,
      family: manifest.family,
      source,
      summary: family?.summary ?? `a ${manifest.family} model (unknown to this genloom)`,
      trainedSteps: Number(manifest.training.step ?? 0),
      capabilities: family ? capabilitiesOf(manifest) : [],
      dir: real,
      manifest,
      version,
    };
  } catch (error) {
    if (error instanceof GenloomError) return { broken: error.message };
    // A folder being written (a checkpoint mid-save) or not a model: not offered until it is whole.
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEntry(entry: CatalogEntry | BrokenEntry | undefined): entry is CatalogEntry {
  return entry !== undefined && !('broken' in entry);
}

export class ModelCatalog {
  readonly modelsDir: string;
  readonly runsDir: string;

  constructor(modelsDir: string, runsDir: string) {
    this.modelsDir = resolve(modelsDir);
    this.runsDir = resolve(runsDir);
  }

  list(): CatalogEntry[] {
    const entries: CatalogEntry[] = [];
    const seen = new Set<string>();
    for (const [root, source] of [[this.modelsDir, 'models'], [this.runsDir, 'runs']] as const) {
      if (!existsSync(root)) continue;
      for (const name of readdirSync(root).sort()) {
        // <run>.old and <run>.saving are a checkpoint save in progress, not models.
        if (!namePattern.test(name) || /\.(old|saving)$/.test(name) || seen.has(name)) continue;
        const entry = readEntry(root, name, source);
        if (isEntry(entry)) {
          entries.push(entry);
          seen.add(name);
        }
      }
    }
    return entries;
  }

  /** The model called `name`, as it is on disk now; a 404 that says what exists otherwise. */
  get(name: string): CatalogEntry {
    if (!namePattern.test(name)) throw new HttpError(400, 'BAD_REQUEST', `"${name}" is not a model name (letters, digits, ".", "_" and "-" only)`);
    for (const [root, source] of [[this.modelsDir, 'models'], [this.runsDir, 'runs']] as const) {
      if (!existsSync(join(root, name))) continue;
      const entry = readEntry(root, name, source);
      if (isEntry(entry)) return entry;
      if (entry) throw new HttpError(422, 'CORRUPT_FILE', `model "${name}" cannot be loaded: ${entry.broken}`);
    }
    const known = this.list().map((entry) => entry.name);
    throw new HttpError(404, 'NOT_FOUND', `no model "${name}"${known.length > 0 ? `: the studio has ${known.join(', ')}` : ' (the models folder is empty)'}`);
  }
}

export function summaryOf(entry: CatalogEntry): ModelSummary {
  const { name, family, source, summary, trainedSteps, capabilities } = entry;
  return { name, family, source, summary, trainedSteps, capabilities };
}
