import { HttpStatus } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { Repository } from 'typeorm';
import type { UploadDatasetFields } from '@medfusion/contracts';
import type { Principal } from '@medfusion/domain';
import { ArchiveError, DatasetError, extractDatasetArchive, summarizeDataset, type ArchiveLimits } from '@medfusion/fusion';
import type { ArtifactStore } from '@medfusion/artifacts';
import type { DatasetEntity } from '@medfusion/persistence';
import { ApiError } from '../common/api-error.js';
import { commitWithIdempotencyKey } from '../idempotency/idempotency.service.js';
import { archiveHttpError, datasetHttpError } from './dataset-upload-errors.js';

/** Where an uploaded dataset's files live in the artifact store. */
export const uploadedDatasetKey = (id: string) => `datasets/${id}`;

/**
 * Turns an uploaded archive into a dataset: unpack it into the artifact store, load it as training
 * would (which validates every row and image), and write the row with its statistics. All or
 * nothing: on any failure the unpacked folder is removed and no row is written.
 */
export async function createUploadedDataset(
  archive: { path: string; size: number },
  fields: UploadDatasetFields,
  p: Principal,
  deps: { store: ArtifactStore; limits: ArchiveLimits; datasets: Repository<DatasetEntity> },
): Promise<DatasetEntity> {
  const id = randomUUID();
  const key = uploadedDatasetKey(id);
  const dest = deps.store.locate(key);
  await mkdir(dest, { recursive: true });
  try {
    const unpacked = await extractDatasetArchive(archive.path, dest, deps.limits).catch((err: unknown) => {
      throw err instanceof ArchiveError ? archiveHttpError(err) : err;
    });
    const summary = await summarizeDataset(unpacked.root, {
      imageColumn: fields.imageColumn,
      labelColumn: fields.labelColumn,
      splitColumn: fields.splitColumn,
      clinicalColumns: fields.clinicalColumns,
      viewColumns: fields.viewColumns,
      maskColumn: fields.maskColumn,
      classNames: fields.classNames,
      imagesInsideFolder: true,
    }).catch((err: unknown) => {
      if (err instanceof DatasetError) throw datasetHttpError(err, dest);
      // The loader's RangeErrors are about the options, i.e. the form fields (e.g. clinicalColumns naming the label column).
      if (err instanceof RangeError) throw new ApiError(HttpStatus.BAD_REQUEST, `body: ${err.message}`, [{ field: 'body', message: err.message }]);
      throw err;
    });
    // The row and the Idempotency-Key's response commit together (see commitWithIdempotencyKey).
    const save = (row: DatasetEntity) => commitWithIdempotencyKey(deps.datasets.manager.dataSource, (m) => m.save(row));
    return await save(
      deps.datasets.create({
        id,
        name: fields.name,
        description: fields.description,
        dataPath: unpacked.root,
        numSamples: summary.numSamples,
        numClasses: summary.numClasses,
        trainSamples: summary.trainSamples,
        valSamples: summary.valSamples,
        testSamples: summary.testSamples,
        classDistribution: summary.classDistribution,
        tags: fields.tags,
        statistics: {
          ...summary.statistics,
          upload: { format: unpacked.format, archiveBytes: archive.size, entries: unpacked.entries, unpackedBytes: unpacked.bytes },
        },
        createdBy: p.owner,
      }),
    );
  } catch (err) {
    await deps.store.delete(key);
    throw err;
  }
}
