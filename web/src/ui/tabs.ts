/**
 * An accessible tab strip (WAI-ARIA tabs): real buttons with role=tab and aria-selected, one tab
 * stop (roving tabindex), arrow keys / Home / End move between tabs, and one tabpanel.
 */
import { h, nextId } from '../dom.ts';

export interface Tab { id: string; label: string }

export function tabStrip(tabs: Tab[], selected: string, onSelect: (id: string) => void, label: string): { strip: HTMLElement; panel: HTMLElement } {
  const panel = h('section', { role: 'tabpanel', id: nextId('panel'), className: 'tabpanel', tabIndex: 0, 'data-testid': 'tabpanel' });
  const strip = h('div', { role: 'tablist', 'aria-label': label, className: 'tabs' });
  const buttons = tabs.map((tab) => h('button', {
    type: 'button', role: 'tab', id: nextId('tab'), 'aria-controls': panel.id, 'data-testid': `tab-${tab.id}`,
    onclick: () => choose(tab.id, false),
  }, tab.label));

  const choose = (id: string, focus: boolean) => {
    buttons.forEach((button, index) => {
      const on = tabs[index]!.id === id;
      button.setAttribute('aria-selected', String(on));
      button.tabIndex = on ? 0 : -1;
      if (on) {
        panel.setAttribute('aria-labelledby', button.id);
        if (focus) button.focus();
      }
    });
    onSelect(id);
  };

  strip.addEventListener('keydown', (event) => {
    const current = buttons.findIndex((button) => button === document.activeElement);
    if (current < 0) return;
    const last = buttons.length - 1;
    const target = { ArrowRight: current === last ? 0 : current + 1, ArrowLeft: current === 0 ? last : current - 1, Home: 0, End: last }[event.key];
    if (target === undefined) return;
    event.preventDefault();
    choose(tabs[target]!.id, true);
  });

  strip.append(...buttons);
  buttons.forEach((button, index) => {
    const on = tabs[index]!.id === selected;
    button.setAttribute('aria-selected', String(on));
    button.tabIndex = on ? 0 : -1;
    if (on) panel.setAttribute('aria-labelledby', button.id);
  });
  return { strip, panel };
}
