export const IDEMPOTENCY_HEADER_DOC = {
  name: 'Idempotency-Key',
  required: false,
  description: 'Retrying a POST with the same key (and body) returns the first response instead of creating a second resource.',
};
