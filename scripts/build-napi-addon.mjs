// Builds one optional N-API addon with the system C++ compiler against Node's own headers: no
// node-gyp, no download, so it builds offline on a clean clone as part of `npm run build`. Without
// a compiler or headers it prints why (`fallback` says what runs instead) and returns false; the
// build goes on. Rebuilds only when the source or the calling script is newer than the addon.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

// `source`: one .cc file or several compiled into one addon; every other file in their folders
// (headers, .inc) counts for the rebuild check.
export function buildNapiAddon({ label, source, target, moduleName, callerScript, fallback }) {
  const sources = Array.isArray(source) ? source : [source];
  const inputs = [...new Set(sources.flatMap((file) => readdirSync(dirname(file)).map((name) => join(dirname(file), name))))];
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    join(dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter(Boolean);
  const include = candidates.find((dir) => existsSync(join(dir, 'node_api.h')));
  const newer = (a, b) => statSync(a).mtimeMs > statSync(b).mtimeMs;
  if (existsSync(target) && inputs.every((file) => newer(target, file)) && newer(target, callerScript)) return true;
  if (!include) {
    console.warn(`${label}: addon not built: no node_api.h in ${candidates.join(', ')} (install Node's headers); ${fallback}`);
    return false;
  }
  const cxx = process.env.CXX || 'g++';
  mkdirSync(dirname(target), { recursive: true });
  const flags = ['-O3', '-std=c++17', '-shared', '-fPIC', '-fno-math-errno', '-fno-trapping-math', '-ffp-contract=off', '-pthread', `-DNODE_GYP_MODULE_NAME=${moduleName}`, `-I${include}`, '-o', target, ...sources];
  try {
    execFileSync(cxx, flags, { stdio: ['ignore', 'inherit', 'inherit'] });
    return true;
  } catch (err) {
    console.warn(`${label}: addon not built (${cxx} ${flags.join(' ')}: ${err.message.split('\n')[0]}); ${fallback}`);
    return false;
  }
}
