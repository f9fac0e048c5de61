import type { LayersModel, io } from '@tensorflow/tfjs';
import type { ArtifactStore } from '@medfusion/artifacts';
import type { Tf } from './compute-backend.js';

export interface ExportedModel {
  /** Location of model.json (weights.bin beside it). */
  location: string;
  /** Bytes of model.json plus weights. */
  size: number;
  format: 'tfjs-layers';
}

/**
 * Saves a trained model in the TF.js layers format (model.json + weights.bin) under `prefix` in the
 * artifact store; tf.loadLayersModel reads it back, and the export worker converts it further.
 */
export async function exportLayersModel(tf: Tf, model: LayersModel, store: ArtifactStore, prefix: string): Promise<ExportedModel> {
  let written: ExportedModel | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts: io.ModelArtifacts) => {
      const weights = new Uint8Array(concatWeightData(artifacts.weightData));
      const modelJson = {
        format: 'layers-model',
        generatedBy: 'medfusion',
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
        // The input preprocessing (clinical columns, standardisation, category vocabularies) set by the training session.
        ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      };
      const json = Buffer.from(JSON.stringify(modelJson));
      await store.put(`${prefix}/weights.bin`, weights);
      const { location } = await store.put(`${prefix}/model.json`, json);
      written = { location, size: json.length + weights.byteLength, format: 'tfjs-layers' };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
    }),
  );
  if (!written) throw new Error('TF.js did not hand over the model artifacts');
  return written;
}

function concatWeightData(data: io.ModelArtifacts['weightData']): ArrayBuffer {
  if (!data) return new ArrayBuffer(0);
  if (!Array.isArray(data)) return data;
  const total = data.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), off);
    off += b.byteLength;
  }
  return out.buffer;
}
