/** Yielding between pieces of work (in the model worker: so a 'stop' message is seen between tokens). */

/**
 * Resolves in a new task, so queued messages and events are handled first. A MessageChannel task,
 * not setTimeout(0), which browsers clamp to 4 ms once nested: awaited after every token, that
 * clamp alone would cap a fast model at 250 tokens/s.
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
