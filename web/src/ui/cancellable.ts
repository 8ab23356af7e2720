/**
 * A form whose submit starts work that may stream for a while (generate, complete): the submit
 * button is busy meanwhile, Cancel — or leaving the page — aborts it (closing the stream, which
 * cancels it on the server), and the results region says when it is busy.
 */
import { announce, busy } from '../dom.ts';
import type { ProgressBar } from './progress.ts';
import { withView } from './view.ts';

export interface CancellableParts {
  form: HTMLFormElement;
  submit: HTMLButtonElement;
  cancel: HTMLButtonElement;
  results: HTMLElement;
  progress: ProgressBar;
}

export function onCancellableSubmit(parts: CancellableParts, work: (signal: AbortSignal) => Promise<void>): void {
  const { form, submit, cancel, results, progress } = parts;
  let controller: AbortController | undefined;
  cancel.addEventListener('click', () => controller?.abort());
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void busy(submit, async () => {
      controller = new AbortController();
      cancel.hidden = false;
      results.setAttribute('aria-busy', 'true');
      try {
        await work(withView(controller.signal));
      } catch (error) {
        if ((error as Error).name === 'AbortError') announce('Cancelled');
        else throw error;
      } finally {
        progress.hide();
        cancel.hidden = true;
        results.setAttribute('aria-busy', 'false');
        controller = undefined;
      }
    });
  });
}
