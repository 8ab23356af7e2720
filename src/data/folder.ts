/**
 * A user's folder of PNG/JPEG images as a dataset. Images directly in the folder are unlabelled;
 * images in subfolders take the subfolder's name as their label (sorted by name), so
 * `faces/smiling/*.png` + `faces/neutral/*.png` gives two labels for attribute vectors. Every image
 * is converted to the requested channels and resized (area-averaged when shrinking).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { readImage, resizeImage, toChannels } from '../io/image.ts';
import { readRegularFile } from '../io/regular-file.ts';
import type { ImageDataset } from './image-dataset.ts';

const imageExtensions = new Set(['.png', '.jpg', '.jpeg']);

/** Files a file manager leaves behind, which a dataset folder may hold without being wrong. */
const systemFiles = new Set(['thumbs.db', 'desktop.ini']);

/**
 * Image files under `dir` (recursively), sorted for a stable order. With `strict`, any other file
 * (hidden and system files aside, and with `allowCaptions` an image's caption x.txt beside x.png)
 * is an error naming it, so a stray file is not silently skipped.
 */
export function listImageFiles(dir: string, strict = false, allowCaptions = false): string[] {
  const out: string[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.')) continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (imageExtensions.has(extname(entry.name).toLowerCase())) out.push(path);
      else if (strict && !systemFiles.has(entry.name.toLowerCase()) && !(allowCaptions && isCaptionFile(path))) {
        throw new GenloomError('BAD_ARGUMENT', `dataset folder ${dir} holds ${path}, which is not a .png or .jpg image: move it out of the folder`);
      }
    }
  };
  walk(dir);
  return out;
}

export interface FolderOptions {
  height: number;
  width: number;
  /** 1 or 3; 'auto' picks 3 if any image has colour. */
  channels: 1 | 3 | 'auto';
  /**
   * Captions from the UTF-8 .txt file of the same name beside each image (x.png → x.txt). true:
   * every image needs one; 'optional' (the default): .txt files may sit beside the images, and are
   * read when every image has one; false: any .txt file is a stray file (an error).
   */
  captions?: boolean | 'optional';
}

export function loadImageFolder(dir: string, options: FolderOptions): ImageDataset {
  if (!existsSync(dir)) throw new GenloomError('NOT_FOUND', `dataset folder ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new GenloomError('BAD_ARGUMENT', `dataset ${dir} is a file, not a folder of images`);
  const captions = options.captions ?? 'optional';
  const files = listImageFiles(dir, true, Boolean(captions));
  if (files.length === 0) throw new GenloomError('EMPTY_DATASET', `dataset folder ${dir} has no .png or .jpg images`);
  const images = files.map((file) => readImage(file));
  const channels = options.channels === 'auto' ? (images.some((image) => image.channels === 3) ? 3 : 1) : options.channels;
  const size = options.height * options.width * channels;
  const pixels = new Float32Array(files.length * size);
  images.forEach((image, i) => {
    pixels.set(resizeImage(toChannels(image, channels), options.width, options.height).data, i * size);
  });
  const dataset: ImageDataset = { name: dir, split: 'all', count: files.length, height: options.height, width: options.width, channels, pixels };
  if (captions === true || (captions === 'optional' && files.every((file) => existsSync(captionPath(file))))) dataset.captions = files.map((file) => readCaption(dir, file));
  const labelOf = files.map((file) => {
    const parts = relative(dir, file).split(sep);
    return parts.length > 1 ? parts[0]! : null;
  });
  if (labelOf.every((label) => label !== null)) {
    const labelNames = [...new Set(labelOf as string[])].sort();
    dataset.labelNames = labelNames;
    dataset.labels = Int32Array.from(labelOf, (label) => labelNames.indexOf(label!));
  }
  return dataset;
}

const maxCaptionBytes = 64 * 1024;

/** Whether `path` is an image's caption: a .txt file with an image of the same name beside it. */
function isCaptionFile(path: string): boolean {
  if (extname(path).toLowerCase() !== '.txt') return false;
  const stem = path.slice(0, path.length - 4);
  return [...imageExtensions].some((extension) => existsSync(stem + extension) || existsSync(stem + extension.toUpperCase()));
}

/** Where the caption of `image` is: the .txt file of the same name beside it. */
function captionPath(image: string): string {
  return image.slice(0, image.length - extname(image).length) + '.txt';
}

/** The caption of `image`: its sibling .txt file, which must exist and be UTF-8 text. */
function readCaption(dir: string, image: string): string {
  const path = captionPath(image);
  if (!existsSync(path)) {
    throw new GenloomError('BAD_ARGUMENT', `dataset folder ${dir} has no caption for ${image}: put its caption in ${path} (one UTF-8 text file per image)`);
  }
  const bytes = readRegularFile(path, { maxBytes: maxCaptionBytes, what: 'caption files' });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new GenloomError('CORRUPT_FILE', `caption file ${path} is not UTF-8 text: save it as UTF-8`);
  }
  const caption = text.replace(/^\uFEFF/, '').trim().replace(/\s+/g, ' ');
  if (!caption) throw new GenloomError('BAD_ARGUMENT', `caption file ${path} is empty: write the image's caption in it`);
  return caption;
}
