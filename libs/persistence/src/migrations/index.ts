import { InitialSchema1763856000000 } from './1763856000000-initial-schema.js';

/** In order. Add new migrations at the end; never edit one that has shipped. */
export const MIGRATIONS = [InitialSchema1763856000000];
