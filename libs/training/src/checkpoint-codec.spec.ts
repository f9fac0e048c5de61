import { decodeCheckpoint, encodeCheckpoint } from './checkpoint-codec.js';

describe('checkpoint codec', () => {
  it('round-trips metadata and tensors exactly', () => {
    const contents = {
      meta: { epoch: 3, step: 7, note: 'x' },
      weights: [
        { name: 'dense/kernel', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 1e-8, 0, -0]) },
        { name: 'dense/bias', shape: [3], data: Float32Array.from([0.1, 0.2, 0.3]) },
      ],
      optimizer: [{ name: 'iter', shape: [], data: Float32Array.from([42]) }],
    };
    const back = decodeCheckpoint<typeof contents.meta>(encodeCheckpoint(contents), 'mem');
    expect(back.meta).toEqual(contents.meta);
    expect(back.weights.map((w) => [w.name, w.shape, Array.from(w.data)])).toEqual(contents.weights.map((w) => [w.name, w.shape, Array.from(w.data)]));
    expect(Array.from(back.optimizer[0]!.data)).toEqual([42]);
  });

  it('names the file when it is truncated or not a checkpoint', () => {
    const buf = encodeCheckpoint({ meta: {}, weights: [{ name: 'w', shape: [4], data: new Float32Array(4) }], optimizer: [] });
    expect(() => decodeCheckpoint(buf.subarray(0, buf.length - 3), 'a.ckpt')).toThrow(/a.ckpt is truncated at tensor w/);
    expect(() => decodeCheckpoint(Buffer.from('\u0002\u0000\u0000\u0000{}'), 'b.ckpt')).toThrow(/b.ckpt is not a MedFusion v1 checkpoint/);
  });
});
