/**
 * The built-in `emoji` dataset: colour images with captions, from two npm packages (never
 * downloaded at run time):
 * - `emoji-datasource-twitter`: Twemoji graphics by Twitter, Inc and other contributors, CC-BY 4.0;
 * - `emoji-datasource-google`: Noto Emoji by Google, Apache License 2.0.
 * Each ships 64×64 RGBA PNGs of about 1,900 emoji and their skin-tone variants (3,786 images per
 * vendor) and an `emoji.json` with each one's category, subcategory and variants. Names come from
 * `emojibase-data` (MIT): the CLDR short names people use ("red heart", "thumbs up"), where
 * emoji.json keeps the old Unicode character names ("heavy black heart", "thumbs up sign").
 *
 * Every image is composited on white and served as RGB at 32×32 (area-averaged) or 64×64. Its
 * caption is the CLDR name in lower case plus what the variant adds, and the vendor as a style
 * word: "woman: red hair, medium-dark skin tone, twitter style". Structured attributes (category,
 * subcategory, skin tone, hair, age, gender, expression, vendor) are kept beside each caption.
 *
 * Splits (deterministic, the same on every machine):
 * - compositional: the (emoji, skin tone) pairs of {@link compositionalPairs}, in both vendors.
 *   They never appear in training, so a model's grasp of new combinations can be measured: every
 *   part of each pair (the person, the tone) is in training in other combinations.
 * - test: 5% of the rest, drawn with the seed "emoji-test-split".
 * - train: everything else.
 * Labels (for the label-conditional image families) are the ten categories.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { GenloomError } from '../core/errors.ts';
import { fromSeed } from '../core/random.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { decodeImageBytes, resizeImage, toChannels } from '../io/image.ts';
import type { ImageDataset } from './image-dataset.ts';

const require = createRequire(import.meta.url);

export const emojiVendors = ['twitter', 'google'] as const;
export type EmojiVendor = (typeof emojiVendors)[number];
export const emojiImageSizes = [32, 64] as const;
export type EmojiSplit = 'train' | 'test' | 'compositional';

/** The five Fitzpatrick modifiers, by code point, as CLDR names them (without "skin tone"). */
export const skinTones: Readonly<Record<string, string>> = {
  '1F3FB': 'light',
  '1F3FC': 'medium-light',
  '1F3FD': 'medium',
  '1F3FE': 'medium-dark',
  '1F3FF': 'dark',
};

/** What a caption says in structured form; absent keys do not apply (a heart has no age). */
export interface EmojiAttributes {
  vendor: EmojiVendor;
  category: string;
  subcategory: string;
  /** "default" (the yellow base of an emoji that has tone variants), a tone name, or "mixed". */
  skinTone?: string;
  hair?: 'red' | 'curly' | 'white' | 'blond' | 'bald';
  age?: 'baby' | 'child' | 'adult' | 'older';
  gender?: 'woman' | 'man' | 'neutral';
  expression?: 'neutral' | 'smiling' | 'grinning';
}

export interface EmojiRecord {
  /** The base emoji's name in lower case, e.g. "woman: red hair". */
  name: string;
  caption: string;
  attributes: EmojiAttributes;
  /** The PNG inside the vendor's package, relative to its img/<vendor>/64 folder. */
  image: string;
  split: EmojiSplit;
}

/**
 * (emoji name, skin tone) pairs held out of training in every vendor: the compositional split.
 * Chosen so that each person and each tone appears in training in other pairs.
 */
export const compositionalPairs: readonly (readonly [string, string])[] = [
  ['woman: red hair', 'dark'],
  ['man: red hair', 'medium-dark'],
  ['man: curly hair', 'light'],
  ['woman: curly hair', 'medium-light'],
  ['woman: white hair', 'medium'],
  ['man: white hair', 'dark'],
  ['man: bald', 'medium-dark'],
  ['woman: bald', 'light'],
  ['person: blond hair', 'medium-light'],
  ['woman: blond hair', 'dark'],
  ['old woman', 'dark'],
  ['old man', 'light'],
  ['older person', 'medium'],
  ['baby', 'medium'],
  ['girl', 'medium-dark'],
  ['boy', 'medium-light'],
  ['child', 'dark'],
  ['woman', 'light'],
  ['man', 'dark'],
  ['person', 'medium-dark'],
  ['waving hand', 'dark'],
  ['thumbs up', 'medium'],
  ['ok hand', 'light'],
  ['raised fist', 'medium-light'],
];

/** The fraction of non-compositional images drawn into the random test split. */
export const emojiTestFraction = 0.05;

interface RawEmoji {
  name: string | null;
  unified: string;
  short_name: string;
  image: string;
  category: string;
  subcategory: string;
  skin_variations?: Record<string, { image: string }>;
}

function packageDir(vendor: EmojiVendor): string {
  const name = `emoji-datasource-${vendor}`;
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new GenloomError('NOT_FOUND', `the built-in emoji dataset needs the npm package "${name}"; run npm install`);
  }
}

function hasWord(name: string, words: RegExp): boolean {
  return words.test(name);
}

/** The attributes a name implies (before the vendor and the skin tone are known). */
function nameAttributes(name: string, category: string): Omit<EmojiAttributes, 'vendor' | 'category' | 'subcategory' | 'skinTone'> {
  const out: ReturnType<typeof nameAttributes> = {};
  const hair = /\b(red|curly|white|blond) hair\b/.exec(name)?.[1] ?? (/\bbald\b/.test(name) ? 'bald' : undefined);
  if (hair) out.hair = hair as EmojiAttributes['hair'];
  if (category === 'People & Body') {
    if (hasWord(name, /\bbaby\b/) && !/feeding baby/.test(name)) out.age = 'baby';
    else if (hasWord(name, /\b(boy|girl|child)\b/) && !/^family/.test(name)) out.age = 'child';
    else if (hasWord(name, /\b(old|older)\b/)) out.age = 'older';
    else if (hasWord(name, /\b(man|woman|person|adult)\b/) && !/^family|\bholding hands\b|\bwith heart\b|\bkiss\b/.test(name)) out.age = 'adult';
    if (!/^family|\bholding hands\b|\bwith heart\b|\bkiss\b/.test(name)) {
      if (hasWord(name, /\b(woman|women|girl|princess|queen)\b/)) out.gender = 'woman';
      else if (hasWord(name, /\b(man|men|boy|prince|king)\b/)) out.gender = 'man';
      else if (hasWord(name, /\b(person|adult|child|baby)\b/)) out.gender = 'neutral';
    }
  }
  if (category === 'Smileys & Emotion' && /\bface\b/.test(name)) {
    if (/\b(grinning|beaming)\b/.test(name)) out.expression = 'grinning';
    else if (/\b(smiling|smile)\b/.test(name)) out.expression = 'smiling';
    else if (/\b(neutral|expressionless)\b/.test(name)) out.expression = 'neutral';
  }
  return out;
}

function toneName(key: string): string {
  const parts = key.split('-').map((code) => skinTones[code]);
  if (parts.some((part) => part === undefined)) throw new GenloomError('CORRUPT_FILE', `emoji.json: unknown skin-tone modifier ${key}`);
  return parts.length === 1 || parts.every((part) => part === parts[0]) ? parts[0]! : parts.join(' and ');
}

/** A code-point sequence as a lookup key: upper case, without the variation selector FE0F. */
function sequenceKey(hexcode: string): string {
  return hexcode.toUpperCase().split('-').filter((part) => part !== 'FE0F').join('-');
}

/** CLDR short names by code-point sequence, from emojibase-data. */
function cldrNames(): Map<string, string> {
  let path: string;
  try {
    path = require.resolve('emojibase-data/en/data.json');
  } catch {
    throw new GenloomError('NOT_FOUND', 'the built-in emoji dataset needs the npm package "emojibase-data"; run npm install');
  }
  try {
    const entries = JSON.parse(readFileSync(path, 'utf8')) as { label: string; hexcode: string }[];
    return new Map(entries.map((entry) => [sequenceKey(entry.hexcode), entry.label]));
  } catch (error) {
    throw new GenloomError('CORRUPT_FILE', `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}

let recordCache: EmojiRecord[] | undefined;

/**
 * Every image of the dataset in a fixed order (vendor, then the packages' order, base before its
 * variants), with its caption, attributes and split.
 */
export function emojiRecords(): EmojiRecord[] {
  if (recordCache) return recordCache;
  const held = new Set(compositionalPairs.map(([name, tone]) => `${name}|${tone}`));
  const records: EmojiRecord[] = [];
  const names = cldrNames();
  for (const vendor of emojiVendors) {
    const dir = packageDir(vendor);
    const imageDir = join(dir, 'img', vendor, '64');
    let entries: RawEmoji[];
    try {
      entries = JSON.parse(readFileSync(join(dir, 'emoji.json'), 'utf8'));
    } catch (error) {
      throw new GenloomError('CORRUPT_FILE', `cannot read ${join(dir, 'emoji.json')}: ${(error as Error).message}`, { cause: error });
    }
    const flag = `has_img_${vendor}`;
    for (const entry of entries) {
      if (!(entry as unknown as Record<string, unknown>)[flag]) continue;
      const name = (names.get(sequenceKey(entry.unified)) ?? entry.name ?? entry.short_name.replace(/_/g, ' ')).toLowerCase();
      const base: EmojiAttributes = { vendor, category: entry.category, subcategory: entry.subcategory, ...nameAttributes(name, entry.category) };
      const variants = Object.entries(entry.skin_variations ?? {}).filter(([, variant]) => existsSync(join(imageDir, variant.image)));
      if (variants.length > 0) base.skinTone = 'default';
      records.push({ name, caption: `${name}, ${vendor} style`, attributes: base, image: entry.image, split: 'train' });
      for (const [key, variant] of variants) {
        const tone = toneName(key);
        const described = `${name}${name.includes(':') ? ', ' : ': '}${tone} skin tone`;
        records.push({
          name,
          caption: `${described}, ${vendor} style`,
          attributes: { ...base, skinTone: tone.includes(' and ') ? 'mixed' : tone },
          image: variant.image,
          split: held.has(`${name}|${tone}`) ? 'compositional' : 'train',
        });
      }
    }
  }
  // The random test split: a seeded draw over the images not held out for the compositional split.
  const candidates = records.map((record, index) => (record.split === 'train' ? index : -1)).filter((index) => index >= 0);
  const order = fromSeed('emoji-test-split').permutation(candidates.length);
  const testCount = Math.round(candidates.length * emojiTestFraction);
  for (let i = 0; i < testCount; i++) records[candidates[order[i]!]!]!.split = 'test';
  recordCache = records;
  return records;
}

/** The cache file of the images at `size`, named by a hash of the image list so a package update never reads stale pixels. */
function cachePath(size: number, records: EmojiRecord[]): string {
  const hash = createHash('sha256');
  for (const record of records) hash.update(`${record.attributes.vendor}/${record.image}\n`);
  return join(packageDir('twitter'), '..', '.cache', 'genloom', `emoji-${size}-${hash.digest('hex').slice(0, 12)}.bin`);
}

/** Every image of {@link emojiRecords} at `size`, RGB bytes, decoded once and cached beside the packages. */
function emojiPixels(size: number): Uint8Array {
  const records = emojiRecords();
  const imageBytes = size * size * 3;
  const path = cachePath(size, records);
  if (existsSync(path)) {
    const cached = new Uint8Array(readFileSync(path));
    if (cached.length === records.length * imageBytes) return cached;
  }
  const out = new Uint8Array(records.length * imageBytes);
  const dirs = Object.fromEntries(emojiVendors.map((vendor) => [vendor, join(packageDir(vendor), 'img', vendor, '64')]));
  records.forEach((record, index) => {
    const file = join(dirs[record.attributes.vendor]!, record.image);
    const decoded = toChannels(decodeImageBytes(readFileSync(file), file), 3);
    const image = decoded.width === size && decoded.height === size ? decoded : resizeImage(decoded, size, size);
    const offset = index * imageBytes;
    for (let i = 0; i < imageBytes; i++) out[offset + i] = Math.round(Math.min(1, Math.max(0, image.data[i]!)) * 255);
  });
  try {
    writeFileAtomic(path, out);
  } catch {
    // Not writable (a read-only install): fine, the next run decodes the PNGs again.
  }
  return out;
}

/** The ten categories, in the packages' order: the dataset's labels. */
export function emojiCategories(): string[] {
  return [...new Set(emojiRecords().map((record) => record.attributes.category))];
}

/** An image dataset that also has a caption and attributes per image. */
export interface CaptionedImageDataset extends ImageDataset {
  captions: string[];
  attributes: EmojiAttributes[];
}

/**
 * The images of one split at `size`×`size` (32 or 64), with captions, attributes and category labels.
 * @example
 * const test = loadEmoji('test', 32); // test.captions[0] === 'white smiling face, twitter style' (say)
 */
export function loadEmoji(split: EmojiSplit | 'all', size = 32): CaptionedImageDataset {
  if (!(emojiImageSizes as readonly number[]).includes(size)) {
    throw new GenloomError('BAD_ARGUMENT', `emoji images come at ${emojiImageSizes.join('×… or ')}×…: --image-size ${size} is not one of ${emojiImageSizes.join(', ')}`);
  }
  const records = emojiRecords();
  const bytes = emojiPixels(size);
  const chosen = records.map((record, index) => (split === 'all' || record.split === split ? index : -1)).filter((index) => index >= 0);
  const imageBytes = size * size * 3;
  const pixels = new Float32Array(chosen.length * imageBytes);
  chosen.forEach((index, i) => {
    const source = bytes.subarray(index * imageBytes, (index + 1) * imageBytes);
    for (let j = 0; j < imageBytes; j++) pixels[i * imageBytes + j] = source[j]! / 255;
  });
  const labelNames = emojiCategories();
  return {
    name: 'emoji',
    split: split === 'compositional' ? 'test' : split,
    count: chosen.length,
    height: size,
    width: size,
    channels: 3,
    pixels,
    labels: Int32Array.from(chosen, (index) => labelNames.indexOf(records[index]!.attributes.category)),
    labelNames,
    captions: chosen.map((index) => records[index]!.caption),
    attributes: chosen.map((index) => records[index]!.attributes),
  };
}
