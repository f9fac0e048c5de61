#!/usr/bin/env node
// Builds the optional NHWC kernels addon (addon/nhwc_kernels.cc). Without a compiler or Node's
// headers the onnx-cpu backend uses its onnxruntime kernels for those ops and logs the same reason.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildNapiAddon } from '../../../scripts/build-napi-addon.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
buildNapiAddon({
  label: 'native-kernels: NHWC',
  source: [join(root, 'addon', 'nhwc_kernels.cc'), join(root, 'addon', 'conv_gemm.cc')],
  target: join(root, 'dist', 'native', 'nhwc_kernels.node'),
  moduleName: 'nhwc_kernels',
  callerScript: fileURLToPath(import.meta.url),
  fallback: 'onnx-cpu will use onnxruntime kernels only',
});
