/**
 * Training: a form that starts a job (built-in dataset or an uploaded folder/file), the job list,
 * and a live view per job (loss curve from SSE progress plus the metrics history, the run's
 * samples.png refreshed at each checkpoint, Stop and Resume).
 */
import { api } from '../api.ts';
import { announce, busy, field, h, optionalNumber, select, showError } from '../dom.ts';
import type { FamilyInfo, Job, JobRequest } from '../types.ts';
import { jobStateBadge, renderJobView, stateText } from './job-view.ts';

export function renderTraining(main: HTMLElement, selectedJob: string | undefined, onModelsChanged: () => void): void {
  const uploads: { dataset: string; text: string }[] = [];
  // The families, their built-in datasets and presets come from the server's registry (GET /api/families).
  let families: FamilyInfo[] = [];
  const family = select([], '', 'train-family');
  const dataset = h('select', { 'data-testid': 'train-dataset' });
  const familyHint = h('small', { className: 'muted', 'data-testid': 'train-family-summary' });
  const fillDatasets = () => {
    const chosen = families.find((known) => known.name === family.value);
    familyHint.textContent = chosen ? `${chosen.summary}. Datasets: ${chosen.datasets}.` : '';
    preset.placeholder = chosen?.presets.length ? chosen.presets.join(', ') : 'tiny, small…';
    const builtin = chosen?.builtinDatasets ?? [];
    const previous = dataset.value;
    dataset.replaceChildren(...builtin.map((name) => h('option', { value: name }, name)), ...uploads.map((upload) => h('option', { value: upload.dataset }, upload.text)));
    if ([...dataset.options].some((option) => option.value === previous)) dataset.value = previous;
  };
  family.addEventListener('change', fillDatasets);
  void api.families().then((known) => {
    families = known;
    family.replaceChildren(...known.map((one) => h('option', { value: one.name }, one.name)));
    // The registry's order: the first family is the one a newcomer starts with.
    family.value = known[0]?.name ?? '';
    fillDatasets();
  }, showError);

  const folder = h('input', { type: 'file', multiple: true, 'data-testid': 'upload-folder' });
  folder.setAttribute('webkitdirectory', '');
  const single = h('input', { type: 'file', accept: '.txt,.mid,.midi,.png,.safetensors,.json', 'data-testid': 'upload-file' });
  const uploadButton = h('button', { type: 'button', className: 'secondary', 'data-testid': 'upload-go' }, 'Upload');
  const uploadStatus = h('p', { className: 'muted', role: 'status', 'data-testid': 'upload-status' });
  uploadButton.addEventListener('click', () => void busy(uploadButton, async () => {
    const files = [...(folder.files ?? []), ...(single.files ?? [])];
    if (!files.length) throw new Error('choose a folder or a file to upload first');
    const paths = files.map((file) => file.webkitRelativePath || file.name);
    uploadStatus.textContent = `Uploading ${files.length} file${files.length > 1 ? 's' : ''}…`;
    const upload = await api.upload(files, paths);
    uploads.push({ dataset: upload.dataset, text: `${upload.dataset} (${upload.files} files, ${(upload.bytes / 1024).toFixed(0)} KiB)` });
    fillDatasets();
    dataset.value = upload.dataset;
    uploadStatus.textContent = `Uploaded ${upload.files} files as ${upload.dataset}; it is selected as the dataset.`;
    announce(uploadStatus.textContent);
  }));

  const steps = optionalNumber('Steps', 200, { min: 1, step: 1, testid: 'train-steps', hint: 'Or leave empty and give epochs.' });
  const epochs = optionalNumber('Epochs', undefined, { min: 0, step: 'any', testid: 'train-epochs' });
  const batchSize = optionalNumber('Batch size', undefined, { min: 1, step: 1, testid: 'train-batch' });
  const learningRate = optionalNumber('Learning rate', undefined, { min: 0, step: 'any', testid: 'train-lr' });
  const seed = optionalNumber('Seed', 1, { min: 0, step: 1, testid: 'train-seed' });
  const name = h('input', { type: 'text', placeholder: 'family-time', 'data-testid': 'train-name', autocomplete: 'off', pattern: '[A-Za-z0-9._\\-]+' });
  const preset = h('input', { type: 'text', placeholder: 'tiny, small…', 'data-testid': 'train-preset', autocomplete: 'off' });
  const start = h('button', { type: 'submit', className: 'primary', 'data-testid': 'train-start' }, 'Start training');

  const form = h('form', { className: 'controls', 'aria-labelledby': 'train-heading' },
    h('h3', { id: 'train-heading' }, 'New training run'),
    field('Family', family), familyHint, field('Dataset', dataset),
    h('fieldset', { className: 'upload' }, h('legend', {}, 'Or upload your data'),
      field('A folder', folder, 'Images in subfolders per label, text files, or MIDI files.'), field('A single file', single), uploadButton, uploadStatus),
    steps.element, epochs.element, batchSize.element, learningRate.element, seed.element,
    field('Run name', name, 'The folder under runs/.'), field('Preset', preset),
    h('div', { className: 'actions' }, start));

  const list = h('ul', { className: 'job-list', 'data-testid': 'job-list' });
  const detail = h('div', { className: 'job-detail', 'data-testid': 'job-detail' });
  let jobs: Job[] = [];

  const renderList = () => {
    list.replaceChildren(...(jobs.length ? jobs.map((job) => h('li', { className: job.id === selectedJob ? 'selected' : '' },
      h('a', { href: `#/training/${encodeURIComponent(job.id)}`, 'aria-current': job.id === selectedJob ? 'true' : undefined, 'data-testid': `job-${job.id}` },
        h('strong', {}, job.name), ' ', jobStateBadge(job),
        h('small', {}, ` ${job.family} · ${job.dataset} · step ${job.step}/${job.totalSteps}`)))) : [h('li', { className: 'muted' }, 'No jobs yet.')]));
  };
  const refresh = async () => {
    try {
      jobs = (await api.jobs()).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      renderList();
    } catch (error) {
      showError(error);
    }
  };
  const timer = window.setInterval(() => {
    if (!list.isConnected) { window.clearInterval(timer); return; }
    if (!document.hidden) void refresh();
  }, 4000);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void busy(start, async () => {
      const request: JobRequest = { family: family.value, dataset: dataset.value };
      if (!request.dataset) throw new Error('choose a dataset (music needs an uploaded MIDI folder or piano-roll file)');
      const values = { steps: steps.read(), epochs: epochs.read(), batchSize: batchSize.read(), learningRate: learningRate.read(), seed: seed.read() };
      for (const [key, value] of Object.entries(values)) if (value !== undefined) (request as unknown as Record<string, unknown>)[key] = value;
      if (name.value.trim()) request.name = name.value.trim();
      if (preset.value.trim()) request.preset = preset.value.trim();
      const job = await api.createJob(request);
      announce(`Job ${job.name} ${stateText[job.state]}`);
      location.hash = `#/training/${encodeURIComponent(job.id)}`;
    });
  });

  main.append(h('h2', {}, 'Training'), h('div', { className: 'training-grid' }, form,
    h('div', {}, h('section', { 'aria-labelledby': 'jobs-heading' }, h('h3', { id: 'jobs-heading' }, 'Jobs'), list), detail)));
  void refresh();
  if (selectedJob) renderJobView(detail, selectedJob, {
    onState: (job) => { jobs = jobs.map((other) => (other.id === job.id ? job : other)); renderList(); if (job.model) onModelsChanged(); },
  });
}
