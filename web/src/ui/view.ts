/**
 * The lifetime of what the studio shows. Every page or tab switch begins a new view, which aborts
 * the signal of the one it replaces: requests a page started (a long diffusion stream, a latent
 * decode) are cancelled on the server instead of holding the one generation worker for nobody.
 */
let current = new AbortController();

/** Ends the shown view (cancelling its work) and returns the signal of the new one. */
export function beginView(): AbortSignal {
  current.abort();
  current = new AbortController();
  return current.signal;
}

/** Aborts when the view shown now is replaced. */
export function viewSignal(): AbortSignal {
  return current.signal;
}

/** A signal that aborts with `own` or when the view is replaced, whichever comes first. */
export function withView(own: AbortSignal): AbortSignal {
  return AbortSignal.any([own, current.signal]);
}
