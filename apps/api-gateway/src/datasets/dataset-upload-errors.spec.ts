import { ArchiveError } from '@medfusion/fusion';
import { archiveHttpError } from './dataset-upload-errors.js';

describe('archiveHttpError', () => {
  it('answers a bomb with 413 and a stopped unpacking with 422, naming the code and entry', () => {
    const bomb = archiveHttpError(new ArchiveError('COMPRESSION_RATIO', 'declares 1073741824 bytes', 'zeros.bin'));
    expect(bomb.getStatus()).toBe(413);
    expect(bomb.getResponse()).toMatchObject({ details: [{ field: 'file', message: 'entry "zeros.bin" declares 1073741824 bytes' }], location: { code: 'COMPRESSION_RATIO', entry: 'zeros.bin' } });
    const slow = archiveHttpError(new ArchiveError('UNPACK_TIMEOUT', 'unpacking took longer than 300000 ms (DATASET_UNPACK_TIMEOUT_MS)'));
    expect(slow.getStatus()).toBe(422);
    expect(slow.getResponse()).toMatchObject({ message: 'file: unpacking took longer than 300000 ms (DATASET_UNPACK_TIMEOUT_MS)', location: { code: 'UNPACK_TIMEOUT' } });
  });
});
