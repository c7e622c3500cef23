/** The sl module's API, as registrar uses it (reply through sl when sl is loaded). */
export type { SlApi } from '../sl/api.js';
