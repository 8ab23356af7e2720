/**
 * A character-level tokenizer: one token per Unicode code point of the training text, ids in code
 * point order so the same text always gives the same vocabulary. Round-trips exactly on any text
 * made of its characters; any other character is an error that names it (a character model has no
 * way to spell what it never saw).
 */
import { GenloomError } from '../core/errors.ts';

const utf8 = new TextEncoder();

export interface CharTokenizerJson {
  kind: 'char';
  characters: string[];
}

export class CharTokenizer {
  readonly kind = 'char';
  private readonly ids: Map<string, number>;

  constructor(readonly characters: string[]) {
    if (characters.length === 0) throw new GenloomError('BAD_ARGUMENT', 'a character vocabulary needs at least one character');
    this.ids = new Map(characters.map((character, id) => [character, id]));
    if (this.ids.size !== characters.length) throw new GenloomError('CORRUPT_FILE', 'the character vocabulary lists a character twice');
  }

  /** The vocabulary of `text`: its distinct characters. */
  static fromText(text: string): CharTokenizer {
    const distinct = new Set<string>();
    for (const character of text) distinct.add(character);
    const characters = [...distinct].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    if (characters.length === 0) throw new GenloomError('BAD_ARGUMENT', 'the text is empty: a tokenizer needs some text to learn its characters');
    return new CharTokenizer(characters);
  }

  static fromJson(json: unknown, source: string): CharTokenizer {
    const value = json as Partial<CharTokenizerJson> | null;
    if (value?.kind !== 'char' || !Array.isArray(value.characters) || !value.characters.every((c) => typeof c === 'string' && Array.from(c).length === 1)) {
      throw new GenloomError('CORRUPT_FILE', `${source} is not a character tokenizer ({"kind": "char", "characters": [...]})`);
    }
    return new CharTokenizer(value.characters);
  }

  get vocabularySize(): number {
    return this.characters.length;
  }

  encode(text: string): Int32Array {
    const characters = Array.from(text);
    const out = new Int32Array(characters.length);
    characters.forEach((character, i) => {
      const id = this.ids.get(character);
      if (id === undefined) {
        throw new GenloomError('BAD_ARGUMENT', `the character ${JSON.stringify(character)} (U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) at position ${i} is not in this model's ${this.characters.length}-character vocabulary`);
      }
      out[i] = id;
    });
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    let text = '';
    for (let i = 0; i < ids.length; i++) {
      const character = this.characters[ids[i]!];
      if (character === undefined) throw new GenloomError('BAD_ARGUMENT', `token id ${ids[i]} is outside the vocabulary (0..${this.characters.length - 1})`);
      text += character;
    }
    return text;
  }

  /** The UTF-8 bytes of one token, for streaming output. */
  tokenBytes(id: number): Uint8Array {
    return utf8.encode(this.decode([id]));
  }

  toJson(): CharTokenizerJson {
    return { kind: 'char', characters: this.characters };
  }
}
