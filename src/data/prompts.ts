/**
 * Text prompts for conditional image models, without a text encoder: a prompt is read against a
 * small, fixed vocabulary per dataset and must name exactly one of the model's labels. Every word
 * has to be understood — a prompt is never half-read — and a prompt that is not says which words
 * the model knows.
 *
 *   MNIST          digits as numerals (7) or words (seven)
 *   Fashion-MNIST  garment names and common synonyms (tee, jeans, sweater, trainer, handbag, boot …)
 *   any folder     its class folder names (and their plurals)
 *
 * Around the label, a prompt may use the filler words below ("a handwritten seven", "a photo of
 * a sneaker").
 */
import { GenloomError } from '../core/errors.ts';

/** Label names (as the model stores them) → the phrases that mean each. */
const builtinVocabularies: Record<string, Record<string, string[]>> = {
  mnist: {
    '0': ['0', 'zero', 'zeros', 'zeroes', 'nought'],
    '1': ['1', 'one', 'ones'],
    '2': ['2', 'two', 'twos'],
    '3': ['3', 'three', 'threes'],
    '4': ['4', 'four', 'fours'],
    '5': ['5', 'five', 'fives'],
    '6': ['6', 'six', 'sixes'],
    '7': ['7', 'seven', 'sevens'],
    '8': ['8', 'eight', 'eights'],
    '9': ['9', 'nine', 'nines'],
  },
  'fashion-mnist': {
    't-shirt': ['t-shirt', 't-shirts', 'tshirt', 'tshirts', 'tee', 'tees', 'top', 'tops', 't shirt', 'tee shirt'],
    trouser: ['trouser', 'trousers', 'pants', 'jeans', 'slacks'],
    pullover: ['pullover', 'pullovers', 'sweater', 'sweaters', 'jumper', 'jumpers', 'sweatshirt', 'hoodie'],
    dress: ['dress', 'dresses', 'gown', 'frock'],
    coat: ['coat', 'coats', 'jacket', 'jackets', 'parka', 'overcoat'],
    sandal: ['sandal', 'sandals', 'flip-flop', 'flip-flops', 'flip flop'],
    shirt: ['shirt', 'shirts', 'blouse', 'blouses', 'button-up', 'dress shirt'],
    sneaker: ['sneaker', 'sneakers', 'trainer', 'trainers', 'running shoe', 'running shoes', 'shoe', 'shoes'],
    bag: ['bag', 'bags', 'handbag', 'handbags', 'purse', 'purses', 'tote'],
    'ankle-boot': ['ankle-boot', 'ankle-boots', 'ankle boot', 'ankle boots', 'boot', 'boots'],
  },
};

// The built-in procedural 3-D shapes (src/shapes/procedural.ts), with the usual words for each.
builtinVocabularies['shapes'] = {
  sphere: ['sphere', 'spheres', 'ball', 'balls', 'globe', 'globes', 'orb'],
  cube: ['cube', 'cubes', 'box', 'boxes', 'block', 'blocks'],
  torus: ['torus', 'tori', 'toruses', 'ring', 'rings', 'donut', 'donuts', 'doughnut', 'doughnuts'],
  cylinder: ['cylinder', 'cylinders', 'tube', 'tubes', 'pipe', 'pipes', 'can', 'cans'],
  cone: ['cone', 'cones'],
  chair: ['chair', 'chairs', 'seat', 'seats', 'stool', 'stools'],
  table: ['table', 'tables', 'desk', 'desks'],
};

// Moving MNIST clips show MNIST digits, named the same way.
builtinVocabularies['moving-mnist'] = builtinVocabularies['mnist']!;

/** Words a prompt may use around the label. */
export const fillerWords = [
  'a', 'an', 'the', 'of', 'some', 'picture', 'photo', 'image', 'drawing', 'sketch', 'handwritten', 'hand',
  'written', 'digit', 'number', 'numeral', 'figure', 'item', 'piece', 'clothing', 'garment', 'please', 'draw', 'me', 'show',
  'shape', '3d', 'model', 'mesh', 'object', 'solid',
];

export interface PromptVocabulary {
  /** Phrase (lower case, words separated by single spaces) → label index. */
  phrases: Map<string, number>;
  labelNames: string[];
}

/** The vocabulary of a model trained on `dataset` (a built-in name or a folder path) with these labels. */
export function promptVocabulary(dataset: string, labelNames: string[]): PromptVocabulary {
  const builtin = builtinVocabularies[dataset];
  const phrases = new Map<string, number>();
  labelNames.forEach((name, index) => {
    const words = builtin?.[name] ?? [name, `${name}s`];
    for (const phrase of [name, ...words]) phrases.set(normalise(phrase), index);
  });
  return { phrases, labelNames };
}

/** Words a clip prompt may use besides the digits ("a 3 and a 7 bouncing"). */
export const motionWords = ['and', 'with', 'bouncing', 'bounce', 'bounces', 'moving', 'move', 'moves', 'flying', 'floating', 'drifting', 'around', 'clip', 'video', 'together'];

/**
 * The labels a prompt names, in the order it names them (repeats kept). Longest phrases match first
 * ("ankle boot" before "boot"); a word that is neither part of a label phrase nor a filler word is an
 * error.
 */
function labelsInPrompt(prompt: string, vocabulary: PromptVocabulary, fillers: readonly string[]): number[] {
  if (vocabulary.labelNames.length === 0) throw new GenloomError('BAD_ARGUMENT', 'this model has no label names, so it cannot read a prompt; use --label with an index');
  const words = normalise(prompt).split(' ').filter(Boolean);
  if (words.length === 0) throw new GenloomError('BAD_ARGUMENT', `the prompt is empty: ${describe(vocabulary)}`);
  const longest = Math.max(...[...vocabulary.phrases.keys()].map((phrase) => phrase.split(' ').length));
  const found: number[] = [];
  const unknown: string[] = [];
  for (let i = 0; i < words.length; ) {
    let matched = 0;
    for (let length = Math.min(longest, words.length - i); length >= 1 && matched === 0; length--) {
      const label = vocabulary.phrases.get(words.slice(i, i + length).join(' '));
      if (label !== undefined) {
        found.push(label);
        matched = length;
      }
    }
    if (matched === 0) {
      if (!fillers.includes(words[i]!)) unknown.push(words[i]!);
      matched = 1;
    }
    i += matched;
  }
  if (unknown.length > 0) throw new GenloomError('BAD_ARGUMENT', `the prompt "${prompt}" has words this model does not know (${unknown.join(', ')}): ${describe(vocabulary)}`);
  if (found.length === 0) throw new GenloomError('BAD_ARGUMENT', `the prompt "${prompt}" names no label: ${describe(vocabulary)}`);
  return found;
}

/** The one label a prompt names; a prompt naming two labels is an error. */
export function labelFromPrompt(prompt: string, vocabulary: PromptVocabulary): number {
  const found = new Set(labelsInPrompt(prompt, vocabulary, fillerWords));
  if (found.size > 1) {
    const names = [...found].map((label) => vocabulary.labelNames[label]);
    throw new GenloomError('BAD_ARGUMENT', `the prompt "${prompt}" names ${found.size} labels (${names.join(', ')}); name one`);
  }
  return [...found][0]!;
}

/** Exactly `count` labels, in the prompt's order ("a 3 and a 7 bouncing" → [3, 7]), for models that show several at once. */
export function labelListFromPrompt(prompt: string, vocabulary: PromptVocabulary, count: number): number[] {
  const found = labelsInPrompt(prompt, vocabulary, [...fillerWords, ...motionWords]);
  if (found.length !== count) {
    throw new GenloomError('BAD_ARGUMENT', `the prompt "${prompt}" names ${found.length} label${found.length === 1 ? '' : 's'} (${found.map((label) => vocabulary.labelNames[label]).join(', ')}); this model shows ${count} per clip, e.g. "a 3 and a 7 bouncing"`);
  }
  return found;
}

/** Lower case, hyphens as spaces ("t-shirt" = "t shirt"), no punctuation, single spaces. */
function normalise(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9\s]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function describe(vocabulary: PromptVocabulary): string {
  const byLabel = vocabulary.labelNames.map((name, index) => {
    const phrases = [...vocabulary.phrases].filter(([, label]) => label === index).map(([phrase]) => phrase);
    return phrases.join('/');
  });
  return `it understands ${byLabel.join('; ')} (and filler words such as "a", "the", "photo of", "handwritten")`;
}
