import * as tf from '@tensorflow/tfjs';
import type { SymbolicTensor, Tensor } from '@tensorflow/tfjs';
import { ColumnEmbeddings, embeddingSizeFor } from './clinical-encoder.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('embeddingSizeFor', () => {
  it('follows min(16, ceil(1.6 x cardinality^0.56))', () => {
    // 1.6 x 3^0.56 = 2.96, 1.6 x 4^0.56 = 3.47, 1.6 x 11^0.56 = 6.14, then capped.
    expect([3, 4, 11, 101, 5000].map(embeddingSizeFor)).toEqual([3, 4, 7, 16, 16]);
  });
});

describe('ColumnEmbeddings', () => {
  it('looks up one table per column, reads out-of-range indices as 0, and survives save and load', async () => {
    const input = tf.input({ shape: [2], dtype: 'int32' });
    const layer = new ColumnEmbeddings({ cardinalities: [3, 5], sizes: [2, 3], seed: 4, name: 'emb' });
    const model = tf.model({ inputs: input, outputs: layer.apply(input) as SymbolicTensor });
    const [t0, t1] = layer.getWeights().map((w) => w.arraySync() as number[][]);
    expect([t0!.length, t0![0]!.length, t1!.length, t1![0]!.length]).toEqual([3, 2, 5, 3]);
    const x = tf.tensor2d([[2, 4], [7, -1]], [2, 2], 'int32');
    const out = (model.predict(x) as Tensor).arraySync() as number[][];
    expect(out[0]).toEqual([...t0![2]!, ...t1![4]!]);
    // 7 is past column 0's table and -1 is negative: both read as index 0 (missing or unseen).
    expect(out[1]).toEqual([...t0![0]!, ...t1![0]!]);

    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
    const reloaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
    expect((reloaded.predict(x) as Tensor).arraySync()).toEqual(out);
  });
});
