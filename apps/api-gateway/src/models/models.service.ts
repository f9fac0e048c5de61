import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ModelEntity } from '@medfusion/persistence';
import { Catalogue } from '../common/catalogue.js';

/** Models are created by workers when a training job completes; users list, read and delete them. */
@Injectable()
export class ModelsService extends Catalogue<ModelEntity, 'modelPath'> {
  constructor(ds: DataSource) {
    super(ds.getRepository(ModelEntity), 'model', ['modelPath']);
  }
}
