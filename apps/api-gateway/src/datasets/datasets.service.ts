import { HttpStatus, Injectable } from '@nestjs/common';
import { DataSource, type Repository } from 'typeorm';
import type { RegisterDataset } from '@medfusion/contracts';
import type { Principal } from '@medfusion/domain';
import { DatasetEntity, TrainingJobEntity } from '@medfusion/persistence';
import { assertMayChange } from '../auth/forbidden.js';
import { ApiError } from '../common/api-error.js';
import { Catalogue } from '../common/catalogue.js';

@Injectable()
export class DatasetsService extends Catalogue<DatasetEntity> {
  private readonly datasets: Repository<DatasetEntity>;

  constructor(private readonly ds: DataSource) {
    super(ds.getRepository(DatasetEntity), 'dataset');
    this.datasets = ds.getRepository(DatasetEntity);
  }

  /** Registers a dataset folder that the workers can read; the gateway does not read it. */
  register(input: RegisterDataset, p: Principal): Promise<DatasetEntity> {
    return this.datasets.save(this.datasets.create({ ...input, classDistribution: input.classDistribution ?? null, createdBy: p.owner }));
  }

  /**
   * Refused while training jobs refer to the dataset, so their history stays reproducible. Who may
   * delete it is checked first: a key that may not delete the dataset gets 403, never the 409.
   */
  override async remove(id: string, p: Principal): Promise<DatasetEntity> {
    assertMayChange(p, 'dataset', id, (await this.get(id)).createdBy);
    const users = await this.ds.getRepository(TrainingJobEntity).countBy({ datasetId: id });
    if (users) {
      throw new ApiError(HttpStatus.CONFLICT, `dataset ${id} is used by ${users} training job(s); delete those jobs first`, [
        { field: 'id', message: 'dataset in use' },
      ]);
    }
    return super.remove(id, p);
  }
}
