export { NATIVE_ADDON_KERNELS, ONNX_CPU_BACKEND, NATIVE_KERNELS, onnxCpuRunner, onnxCpuStatus, registerOnnxCpuBackend, type OnnxCpuOptions, type OnnxCpuStatus } from './onnx-cpu-backend.js';
export { NativeRunner } from './ort/native-runner.js';
export { probeOnnxRuntime } from './ort/ort-sync-session.js';
export { encodeOnnxModel, type OnnxGraph } from './onnx/onnx-graph.js';
export { measureNativeConvGflops } from './native-conv-throughput.js';
