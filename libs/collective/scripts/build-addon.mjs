#!/usr/bin/env node
// Builds the optional reduction addon (addon/reduce_add.cc). Without it the ring adds in JS (same
// results, about five times slower per element).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNapiAddon } from '../../../scripts/build-napi-addon.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
buildNapiAddon({
  label: 'collective: reduction',
  source: join(root, 'addon', 'reduce_add.cc'),
  target: join(root, 'dist', 'native', 'reduce_add.node'),
  moduleName: 'reduce_add',
  callerScript: fileURLToPath(import.meta.url),
  fallback: 'the all-reduce adds in JavaScript',
});
