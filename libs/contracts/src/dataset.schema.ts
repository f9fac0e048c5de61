import { z } from 'zod';

const count = z.int().min(0).max(2 ** 31 - 1);

export const registerDatasetSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    description: z.string().max(5000).default(''),
    /** Folder (or URI) that the workers read; the gateway does not need to see it. */
    dataPath: z.string().trim().min(1).max(4096),
    numSamples: count,
    numClasses: z.int().min(1).max(100000),
    trainSamples: count.default(0),
    valSamples: count.default(0),
    testSamples: count.default(0),
    classDistribution: z.record(z.string().min(1).max(200), count).optional(),
    tags: z.array(z.string().min(1).max(100)).max(50).default([]),
  })
  .superRefine((d, ctx) => {
    if (d.trainSamples + d.valSamples + d.testSamples > d.numSamples) {
      ctx.addIssue({
        code: 'custom',
        path: ['numSamples'],
        message: `must be at least trainSamples + valSamples + testSamples (${d.trainSamples + d.valSamples + d.testSamples})`,
      });
    }
    if (d.classDistribution) {
      const classes = Object.keys(d.classDistribution).length;
      if (classes > d.numClasses) {
        ctx.addIssue({ code: 'custom', path: ['classDistribution'], message: `has ${classes} classes but numClasses is ${d.numClasses}` });
      }
      const total = Object.values(d.classDistribution).reduce((a, b) => a + b, 0);
      if (total !== d.numSamples) {
        ctx.addIssue({ code: 'custom', path: ['classDistribution'], message: `counts sum to ${total} but numSamples is ${d.numSamples}` });
      }
    }
  });
export type RegisterDataset = z.infer<typeof registerDatasetSchema>;

/** Per clinical column over all rows, in raw units; mean/std/min/max are null for a column with no number. */
export const clinicalColumnStatsSchema = z.strictObject({
  count: count,
  missing: count,
  mean: z.number().nullable(),
  /** Population standard deviation, as used for standardisation. */
  std: z.number().nullable(),
  min: z.number().nullable(),
  max: z.number().nullable(),
});
export type ClinicalColumnStats = z.infer<typeof clinicalColumnStatsSchema>;

export const IMAGE_FORMATS = ['png', 'jpeg', 'dicom'] as const;

export const imageStatsSchema = z.strictObject({
  /** How many rows' images are in each format. */
  formats: z.partialRecord(z.enum(IMAGE_FORMATS), count),
  minWidth: count,
  maxWidth: count,
  minHeight: count,
  maxHeight: count,
});

/** What an uploaded dataset holds, computed when it is validated (stored in `datasets.statistics`). */
export const datasetStatisticsSchema = z.strictObject({
  clinical: z.record(z.string(), clinicalColumnStatsSchema),
  images: imageStatsSchema,
  /** Where the data came from: the uploaded archive's format, its size and what it unpacked to. */
  upload: z
    .strictObject({
      format: z.enum(['zip', 'tar.gz', 'tar']),
      archiveBytes: z.int().min(0),
      entries: count,
      unpackedBytes: z.int().min(0),
    })
    .optional(),
});
export type DatasetStatistics = z.infer<typeof datasetStatisticsSchema>;

/** Comma-separated in a form field: "a, b,c" is ["a", "b", "c"]. */
const commaList = (item: z.ZodString, max: number) =>
  z
    .string()
    .max(100_000)
    .transform((s) => s.split(',').map((t) => t.trim()).filter((t) => t !== ''))
    .pipe(z.array(item).max(max));

/**
 * The text fields of `POST /datasets/upload` (multipart/form-data; the archive is the `file` part).
 * Column names default like a training job's dataConfig.
 */
export const uploadDatasetFieldsSchema = z.strictObject({
  name: z.string().trim().min(1).max(200),
  description: z.string().max(5000).default(''),
  /** Comma-separated. */
  tags: commaList(z.string().min(1).max(100), 50).default([]),
  imageColumn: z.string().trim().min(1).max(200).default('image'),
  labelColumn: z.string().trim().min(1).max(200).default('label'),
  splitColumn: z.string().trim().min(1).max(200).default('split'),
  /** Comma-separated; default: every numeric column except image, label, split and id. */
  clinicalColumns: commaList(z.string().min(1).max(200), 4096).optional(),
  /**
   * Comma-separated image columns, one per view (multi-view data): read instead of imageColumn, an
   * empty cell being a missing view. Default: one image per row, from imageColumn.
   */
  viewColumns: commaList(z.string().min(1).max(200), 16)
    .refine((names) => names.length >= 2, 'needs at least 2 columns (leave it out for one image per row)')
    .refine((names) => new Set(names).size === names.length, 'must not name a column twice')
    .optional(),
  /** A region-mask image column (attention supervision); an empty cell = no mask for that row. */
  maskColumn: z.string().trim().min(1).max(200).optional(),
  /** Comma-separated class names in class-index order; a label outside them is an error naming its row. Default: inferred. */
  classNames: commaList(z.string().min(1).max(200), 1000)
    .refine((names) => names.length >= 2, 'needs at least 2 classes (a classifier cannot learn from one)')
    .refine((names) => new Set(names).size === names.length, 'must not name a class twice')
    .optional(),
});
export type UploadDatasetFields = z.infer<typeof uploadDatasetFieldsSchema>;

/**
 * An upload as the gateway holds it once the archive is on disk: the text fields plus the archive's
 * size and SHA-256 (which make the archive part of the request's identity for Idempotency-Key).
 */
export const storedDatasetUploadSchema = uploadDatasetFieldsSchema.extend({
  file: z.strictObject({ size: z.int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
});
export type StoredDatasetUpload = z.infer<typeof storedDatasetUploadSchema>;
