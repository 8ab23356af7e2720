/**
 * The in-browser runtime: TensorFlow.js, its backends and the model code. The page imports this
 * module dynamically, so the studio's first load does not carry TensorFlow.js; Vite makes it a
 * chunk of its own.
 */
export { chooseBackend, backendOrder, type BackendChoice, type BackendName } from './backend.ts';
export { buildBrowserModel } from './models.ts';
