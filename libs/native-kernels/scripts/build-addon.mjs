#!/usr/bin/env node
// Builds the optional NHWC kernels addon (addon/nhwc_kernels.cc) with the system C++ compiler
// against Node's own N-API headers: no node-gyp, no download, so it builds offline on a clean
// clone as part of `npm run build`. Without a compiler or headers it prints why and exits 0: the
// onnx-cpu backend then uses its onnxruntime kernels for those ops and logs the same reason.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const source = join(root, 'addon', 'nhwc_kernels.cc');
const target = join(root, 'dist', 'native', 'nhwc_kernels.node');

const candidates = [
  process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
  join(dirname(process.execPath), '..', 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
].filter(Boolean);
const include = candidates.find((dir) => existsSync(join(dir, 'node_api.h')));

if (existsSync(target) && statSync(target).mtimeMs > statSync(source).mtimeMs && statSync(target).mtimeMs > statSync(fileURLToPath(import.meta.url)).mtimeMs) {
  process.exit(0);
}
if (!include) {
  console.warn(`native-kernels: NHWC addon not built: no node_api.h in ${candidates.join(', ')} (install Node's headers); onnx-cpu will use onnxruntime kernels only`);
  process.exit(0);
}
const cxx = process.env.CXX || 'g++';
mkdirSync(dirname(target), { recursive: true });
const flags = ['-O3', '-std=c++17', '-shared', '-fPIC', '-fno-math-errno', '-fno-trapping-math', '-DNODE_GYP_MODULE_NAME=nhwc_kernels', `-I${include}`, '-o', target, source];
try {
  execFileSync(cxx, flags, { stdio: ['ignore', 'inherit', 'inherit'] });
} catch (err) {
  console.warn(`native-kernels: NHWC addon not built (${cxx} ${flags.join(' ')}: ${err.message.split('\n')[0]}); onnx-cpu will use onnxruntime kernels only`);
  process.exit(0);
}
