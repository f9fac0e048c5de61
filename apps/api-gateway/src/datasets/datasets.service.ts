import { HttpStatus, Injectable } from '@nestjs/common';
import { isAbsolute, relative } from 'node:path';
import { DataSource, type Repository } from 'typeorm';
import { LocalArtifactStore, type ArtifactStore } from '@medfusion/artifacts';
import type { RegisterDataset, UploadDatasetFields } from '@medfusion/contracts';
import type { Principal } from '@medfusion/domain';
import type { ArchiveLimits } from '@medfusion/fusion';
import { DatasetEntity, TrainingJobEntity } from '@medfusion/persistence';
import { assertMayChange } from '../auth/forbidden.js';
import { ApiError } from '../common/api-error.js';
import { Catalogue } from '../common/catalogue.js';
import { FileReferences } from '../common/file-references.js';
import { GatewayConfig } from '../infrastructure/gateway-config.js';
import { commitWithIdempotencyKey } from '../idempotency/idempotency.service.js';
import { createUploadedDataset, uploadedDatasetKey } from './dataset-upload.js';

@Injectable()
export class DatasetsService extends Catalogue<DatasetEntity, 'dataPath'> {
  private readonly datasets: Repository<DatasetEntity>;
  private readonly store: ArtifactStore;
  private readonly archiveLimits: ArchiveLimits;

  constructor(
    private readonly ds: DataSource,
    config: GatewayConfig,
    private readonly files: FileReferences,
  ) {
    super(ds.getRepository(DatasetEntity), 'dataset', ['dataPath']);
    this.datasets = ds.getRepository(DatasetEntity);
    this.store = new LocalArtifactStore(config.env.ARTIFACTS_DIR);
    this.archiveLimits = {
      maxEntries: config.env.DATASET_MAX_ENTRIES,
      maxExtractedBytes: config.env.DATASET_EXTRACTED_LIMIT_BYTES,
      maxCompressionRatio: config.env.DATASET_MAX_COMPRESSION_RATIO,
      unpackTimeoutMs: config.env.DATASET_UNPACK_TIMEOUT_MS,
    };
  }

  /**
   * Registers a dataset folder that the workers read. The gateway only checks where it lies (under
   * a data root, links resolved) and records its real path; the workers check again when they open it.
   */
  async register(input: RegisterDataset, p: Principal): Promise<DatasetEntity> {
    const dataPath = await this.files.confine(input.dataPath, 'body.dataPath');
    const row = this.datasets.create({ ...input, dataPath, classDistribution: input.classDistribution ?? null, createdBy: p.owner });
    return commitWithIdempotencyKey(this.ds, (m) => m.getRepository(DatasetEntity).save(row));
  }

  /** Unpacks, validates and registers an uploaded archive (see createUploadedDataset). */
  upload(archive: { path: string; size: number }, fields: UploadDatasetFields, p: Principal): Promise<DatasetEntity> {
    return createUploadedDataset(archive, fields, p, { store: this.store, limits: this.archiveLimits, datasets: this.datasets });
  }

  /**
   * Refused while training jobs refer to the dataset, so their history stays reproducible. Who may
   * delete it is checked first: a key that may not delete the dataset gets 403, never the 409.
   */
  override async remove(id: string, p: Principal): Promise<DatasetEntity> {
    assertMayChange(p, 'catalogue', 'dataset', id, (await this.find(id)).createdBy);
    const users = await this.ds.getRepository(TrainingJobEntity).countBy({ datasetId: id });
    if (users) {
      throw new ApiError(HttpStatus.CONFLICT, `dataset ${id} is used by ${users} training job(s); delete those jobs first`, [
        { field: 'id', message: 'dataset in use' },
      ]);
    }
    const row = await super.remove(id, p);
    // An uploaded dataset's files belong to the platform and go with its row; a registered path is the user's.
    const key = uploadedDatasetKey(row.id);
    const inside = relative(this.store.locate(key), row.dataPath);
    if (!inside.startsWith('..') && !isAbsolute(inside)) await this.store.delete(key);
    return row;
  }
}
