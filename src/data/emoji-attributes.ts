/**
 * Named, adjustable features of the emoji corpus, defined by the structured attributes beside each
 * caption (emoji.ts): age, smile, hair and skin tone. Each names the examples that have it and those
 * that do not; the latent tools turn the pair into an attribute vector (src/latent/named-attributes.ts).
 */
import type { EmojiAttributes } from './emoji.ts';

export interface NamedAttribute {
  name: string;
  /** The slider it belongs to: age, smile, hair, skin tone. */
  group: string;
  description: string;
  /**
   * What a clip model's similarity is measured against to check that the attribute shows: a
   * caption of the corpus's own form ("person: red hair"), since that is what the clip model has
   * learned to read.
   */
  words: string;
  has(attributes: EmojiAttributes): boolean;
  lacks(attributes: EmojiAttributes): boolean;
}

const isPlainAdult = (a: EmojiAttributes) => a.subcategory === 'person' && a.age === 'adult' && !a.hair;
const tones = ['light', 'medium-light', 'medium', 'medium-dark', 'dark'] as const;

export const emojiAttributes: readonly NamedAttribute[] = [
  {
    name: 'age',
    group: 'age',
    description: 'older (positive) or younger (negative): old men, women and people against babies and children',
    words: 'old person',
    has: (a) => a.age === 'older',
    lacks: (a) => a.age === 'baby' || a.age === 'child',
  },
  {
    name: 'smile',
    group: 'smile',
    description: 'smiling and grinning faces against neutral, skeptical and concerned ones',
    words: 'grinning face',
    has: (a) => a.expression === 'smiling' || a.expression === 'grinning',
    lacks: (a) => a.subcategory === 'face-concerned' || a.subcategory === 'face-neutral-skeptical',
  },
  ...(['red', 'curly', 'white', 'blond'] as const).map((hair): NamedAttribute => ({
    name: `${hair} hair`,
    group: 'hair',
    description: `people with ${hair} hair against plain men, women and people`,
    words: `person: ${hair} hair`,
    has: (a) => a.hair === hair,
    lacks: isPlainAdult,
  })),
  {
    name: 'bald',
    group: 'hair',
    description: 'bald people against plain men, women and people',
    words: 'person: bald',
    has: (a) => a.hair === 'bald',
    lacks: isPlainAdult,
  },
  ...tones.map((tone): NamedAttribute => ({
    name: `${tone} skin tone`,
    group: 'skin tone',
    description: `the ${tone} skin-tone variants against the default yellow of the same emoji`,
    words: `person: ${tone} skin tone`,
    has: (a) => a.skinTone === tone,
    lacks: (a) => a.skinTone === 'default',
  })),
  {
    name: 'skin tone',
    group: 'skin tone',
    description: 'darker (positive) or lighter (negative): the dark variants against the light ones',
    words: 'person: dark skin tone',
    has: (a) => a.skinTone === 'dark',
    lacks: (a) => a.skinTone === 'light',
  },
];

/** The named attribute `name` (case-insensitive), or undefined. */
export function emojiAttributeNamed(name: string): NamedAttribute | undefined {
  const wanted = name.trim().toLowerCase();
  return emojiAttributes.find((attribute) => attribute.name === wanted);
}
