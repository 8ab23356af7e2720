// The live view of one training job: state, Stop/Resume, loss curve, the run's samples.png.
import { api } from '../api.ts';
import { announce, busy, h, showError } from '../dom.ts';
import type { Job, JobProgress } from '../types.ts';
import { lossChart } from '../ui/chart.ts';
import { progressBar } from '../ui/progress.ts';

export const stateText: Record<Job['state'], string> = {
  queued: 'queued', running: 'running', stopping: 'stopping…', stopped: 'stopped', finished: 'finished', failed: 'failed',
};

export function jobStateBadge(job: Job): HTMLElement {
  return h('span', { className: `badge state-${job.state}`, 'data-testid': 'job-state' }, stateText[job.state]);
}

/** The numbers of a metrics line or progress event worth plotting: the losses, else every value. */
export function plottable(values: Record<string, unknown>): Record<string, number> {
  const skip = new Set(['step', 'epoch', 'learningRate', 'unitsPerSecond', 'time', 'elapsed', 'totalSteps']);
  const numbers = Object.entries(values).filter((entry): entry is [string, number] => typeof entry[1] === 'number' && !skip.has(entry[0]));
  const losses = numbers.filter(([name]) => /loss/i.test(name));
  return Object.fromEntries(losses.length ? losses : numbers);
}

export function renderJobView(container: HTMLElement, id: string, hooks: { onState(job: Job): void }): void {
  const title = h('h3', { 'data-testid': 'job-title' }, 'Job');
  const state = h('p', { className: 'job-state-line', role: 'status' });
  const stop = h('button', { type: 'button', className: 'secondary', 'data-testid': 'job-stop', hidden: true }, 'Stop');
  const resume = h('button', { type: 'button', className: 'secondary', 'data-testid': 'job-resume', hidden: true }, 'Resume');
  const progress = progressBar('job-progress');
  const values = h('p', { className: 'muted', 'data-testid': 'job-values' });
  const chart = lossChart();
  const samples = h('img', { className: 'pixelated job-samples', alt: 'Samples from the latest checkpoint', 'data-testid': 'job-samples', hidden: true });
  const openModel = h('a', { hidden: true, 'data-testid': 'job-model' }, 'Open the model');
  let job: Job | undefined;
  let lastState = '';

  const showJob = (next: Job) => {
    job = next;
    title.textContent = `${next.name} (${next.family} on ${next.dataset})`;
    state.replaceChildren(jobStateBadge(next), ` step ${next.step} of ${next.totalSteps}`, next.error ? ` · ${next.error}` : '', next.state === 'queued' ? ' · waiting for the running job to finish' : '');
    stop.hidden = !['queued', 'running'].includes(next.state);
    resume.hidden = !['stopped', 'failed'].includes(next.state);
    if (next.totalSteps) progress.update(next.step, next.totalSteps);
    if (next.model) { openModel.hidden = false; openModel.href = `#/models/${encodeURIComponent(next.model)}`; }
    if (next.state !== lastState) { if (lastState) announce(`Job ${next.name} is ${next.state}`); lastState = next.state; }
    hooks.onState(next);
  };
  const refreshSamples = (step: number | string) => {
    samples.src = api.jobFileUrl(id, 'samples.png', step);
    samples.hidden = false;
  };
  samples.addEventListener('error', () => { samples.hidden = true; });

  stop.addEventListener('click', () => void busy(stop, async () => showJob(await api.stopJob(id))));
  // A resumed job is watched afresh: its event stream was closed when it stopped.
  resume.addEventListener('click', () => void busy(resume, async () => {
    const resumed = await api.resumeJob(id);
    events.close();
    renderJobView(container, id, hooks);
    hooks.onState(resumed);
  }));

  container.replaceChildren(h('section', { className: 'job-view', 'aria-labelledby': 'job-title-heading' },
    Object.assign(title, { id: 'job-title-heading' }), state, h('div', { className: 'inline' }, stop, resume, openModel),
    progress.element, values, chart.element, h('figure', {}, samples, h('figcaption', { className: 'muted' }, 'samples.png of the latest checkpoint'))));

  void (async () => {
    try {
      showJob(await api.job(id));
      for (const line of await api.jobMetrics(id)) if (typeof line['step'] === 'number') chart.add(line['step'], plottable(line));
      if (job && job.step > 0) refreshSamples(job.step);
    } catch (error) {
      showError(error);
    }
  })();

  const events = api.jobEvents(id);
  const alive = () => {
    if (container.isConnected) return true;
    events.close();
    return false;
  };
  events.addEventListener('state', (event) => {
    if (!alive()) return;
    const next = (JSON.parse((event as MessageEvent<string>).data) as { job: Job }).job;
    showJob(next);
    // A job that has ended sends nothing more; an open stream would hold one of the browser's few
    // connections to the server for as long as the page shows it.
    if (['finished', 'failed', 'stopped'].includes(next.state)) events.close();
  });
  events.addEventListener('progress', (event) => {
    if (!alive()) return;
    const data = JSON.parse((event as MessageEvent<string>).data) as JobProgress;
    chart.add(data.step, plottable(data.values));
    progress.update(data.step, data.totalSteps);
    values.textContent = `step ${data.step}: ${Object.entries(data.values).map(([name, value]) => `${name} ${Number(value).toPrecision(4)}`).join(', ')}${data.unitsPerSecond ? ` · ${data.unitsPerSecond.toFixed(1)}/s` : ''}`;
  });
  events.addEventListener('checkpoint', (event) => {
    if (!alive()) return;
    const data = JSON.parse((event as MessageEvent<string>).data) as { step: number; files: string[] };
    if (data.files.includes('samples.png')) refreshSamples(data.step);
  });
  // EventSource reconnects by itself; it is closed once the view has left the page.
  const watcher = window.setInterval(() => { if (!alive()) window.clearInterval(watcher); }, 2000);
}
