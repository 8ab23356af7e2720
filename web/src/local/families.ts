/**
 * Which families run in the page and what each needs fetched: no tfjs here, so the studio can decide
 * before it loads the (large) TensorFlow.js chunk.
 */

/** The families whose starter models run in the page. */
export const inBrowserFamilies = ['vae', 'gan', 'diffusion', 'transformer'] as const;
export type InBrowserFamily = (typeof inBrowserFamilies)[number];

export function isInBrowserFamily(family: string): family is InBrowserFamily {
  return (inBrowserFamilies as readonly string[]).includes(family);
}

/** The files a family needs, in the order they are fetched (the weights last: the big one). */
export function filesFor(family: InBrowserFamily): string[] {
  return family === 'transformer' ? ['config.json', 'tokenizer.json', 'model.safetensors'] : ['config.json', 'model.safetensors'];
}
