/**
 * What a model can do, as the CLI, the server and the studio offer it. A plain list with no
 * imports, so the HTTP contract the studio compiles against can name them too.
 *
 * 'text-to-image': an image model that follows free-text prompts (and negative prompts) through a
 * text encoder it carries; the studio offers these first.
 */
export const capabilities = ['images', 'text-to-image', 'latent', 'encode', 'latent-map', 'attributes', 'trajectory', 'completion', 'text', 'attention', 'music', 'clips', 'shapes', 'embed', 'in-browser'] as const;
export type Capability = (typeof capabilities)[number];

/** What a family makes; each has one request type in src/generate/. */
export const modalities = ['images', 'text', 'music', 'clips', 'shapes'] as const;
export type Modality = (typeof modalities)[number];
