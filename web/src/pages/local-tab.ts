// The "In this browser" tab: mounts the in-browser page (web/src/local/, loaded only when opened).
import { api } from '../api.ts';
import { h, showError } from '../dom.ts';
import type { ModelInfo } from '../types.ts';

export function renderLocalTab(panel: HTMLElement, info: ModelInfo): void {
  const container = h('div', { className: 'local-page', 'data-testid': 'local-page' }, 'Loading the in-browser runtime…');
  panel.append(container);
  import('../local/page.ts')
    .then(({ renderLocalPage }) => {
      container.replaceChildren();
      renderLocalPage({ container, info: info as unknown as Parameters<typeof renderLocalPage>[0]['info'], fetchFile: (file) => api.fetchFile(info.name, file) });
    })
    .catch((error: unknown) => {
      container.textContent = 'The in-browser runtime could not be loaded.';
      showError(error);
    });
}
