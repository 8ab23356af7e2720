/** Yielding to the browser between pieces of work, so the page stays live while a model runs. */

/**
 * Lets the browser handle input and paint between two pieces of work: resolves in a new task. A
 * MessageChannel task, not setTimeout(0), which browsers clamp to 4 ms once nested: awaited after
 * every token, that clamp alone would cap a fast model at 250 tokens/s.
 */
export function yieldToBrowser(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/**
 * The yield the text loop awaits after each token: a new task every time (input stays live), and
 * at least every `frameMs` a real animation frame, so the streamed text is painted as it grows even
 * where the scheduler would keep running tasks. A hidden tab (no frames) falls back to a timeout.
 */
export function tokenYield(frameMs = 50): () => Promise<void> {
  let lastFrame = performance.now();
  return async () => {
    if (performance.now() - lastFrame < frameMs) return yieldToBrowser();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, frameMs);
      requestAnimationFrame(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    lastFrame = performance.now();
  };
}

/** Resolves once the browser has had the chance to paint (a status message set just before shows). */
export function nextPaint(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}
