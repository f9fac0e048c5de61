#!/usr/bin/env node
// The npm registry this project installs from carries only the linux-x64 builds of packages that
// ship per-platform binaries (@swc/core, msgpackr-extract, unrs-resolver ...). `npm install` then
// leaves the other platforms' optional packages out of package-lock.json, and `npm ci` refuses the
// lock file ("Missing: ... from lock file"). This adds each missing optional package to the lock
// with its os/cpu, so `npm ci` knows it and skips it on machines it does not fit.
// Run it after every `npm install` that changes the lock: `node scripts/lock-foreign-platforms.mjs`.
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const OS = ['darwin', 'linux', 'win32', 'android', 'freebsd', 'openharmony', 'sunos', 'openbsd', 'netbsd', 'aix'];
const CPU = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'loong64', 'riscv64', 'wasm32'];

let added = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const base = path ? `${path}/node_modules/` : 'node_modules/';
    const hoisted = `node_modules/${name}`;
    if (lock.packages[`${base}${name}`] || lock.packages[hoisted]) continue;
    const parts = name.split('/').pop().split('-');
    const os = parts.find((p) => OS.includes(p));
    const cpu = parts.find((p) => CPU.includes(p));
    if (!os || !cpu) continue; // not a per-platform build
    lock.packages[hoisted] = { version, optional: true, os: [os], cpu: [cpu] };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)));
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} foreign-platform optional package(s) to package-lock.json`);
