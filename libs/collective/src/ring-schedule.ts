/**
 * The ring all-reduce schedule, without any I/O. The buffer is cut into N segments (one per rank,
 * sizes differing by at most one element). In reduce-scatter step s (0 .. N-2) rank r sends
 * segment (r - s) mod N to its successor and adds the segment (r - s - 1) mod N it receives from
 * its predecessor; after N-1 steps rank r holds the full sum of segment (r + 1) mod N. The
 * all-gather steps (N-1 .. 2N-3) pass those finished segments around the ring, each rank
 * overwriting with what it receives. Each segment travels in buckets of at most `bucketElements`,
 * so a rank forwards bucket i of a step as soon as bucket i of the previous step has arrived.
 */

/** A run of float32 elements of the buffer. */
export interface Span {
  offset: number;
  length: number;
}

export type RingPhase = 'reduce-scatter' | 'all-gather' | 'broadcast';

/** What a rank does with a received bucket: add it, add it and divide by N (finishing a mean), or overwrite with it. */
export type RecvOp = 'add' | 'add-divide' | 'copy';

export interface RingStep {
  step: number;
  phase: RingPhase;
  /** Segments of an all-reduce step (-1 in a broadcast, which moves the whole buffer). */
  sendSegment: number;
  recvSegment: number;
  /** Buckets sent in this step. In an all-reduce never empty: an empty segment still sends one empty bucket, so every step is a message and the ring stays in lock step. */
  sends: Span[];
  recvs: Span[];
  recvOp: RecvOp;
  /** Bucket i of this step may leave only once bucket i of that step's receives has arrived. */
  sendAfterRecvOfStep?: number;
}

export interface RingPlan {
  rank: number;
  worldSize: number;
  elements: number;
  bucketElements: number;
  steps: RingStep[];
  /** The segment this rank finishes (sums and divides) in the last reduce-scatter step; -1 in a broadcast. */
  ownedSegment: number;
}

export function ringNeighbours(rank: number, worldSize: number): { predecessor: number; successor: number } {
  return { predecessor: (rank - 1 + worldSize) % worldSize, successor: (rank + 1) % worldSize };
}

/** N contiguous segments covering `elements`; the first `elements % N` are one element longer. */
export function segmentSpans(elements: number, worldSize: number): Span[] {
  const base = Math.floor(elements / worldSize);
  const extra = elements % worldSize;
  const spans: Span[] = [];
  let offset = 0;
  for (let i = 0; i < worldSize; i++) {
    const length = base + (i < extra ? 1 : 0);
    spans.push({ offset, length });
    offset += length;
  }
  return spans;
}

/** A segment cut into buckets of at most `bucketElements`; an empty segment is one empty bucket. */
export function bucketSpans(segment: Span, bucketElements: number): Span[] {
  if (segment.length === 0) return [{ offset: segment.offset, length: 0 }];
  const spans: Span[] = [];
  for (let start = 0; start < segment.length; start += bucketElements) {
    spans.push({ offset: segment.offset + start, length: Math.min(bucketElements, segment.length - start) });
  }
  return spans;
}

const mod = (a: number, n: number): number => ((a % n) + n) % n;

function checkArgs(rank: number, worldSize: number, elements: number, bucketElements: number): void {
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new RangeError(`worldSize must be a positive integer, got ${worldSize}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) throw new RangeError(`rank must be an integer in 0..${worldSize - 1}, got ${rank}`);
  if (!Number.isInteger(elements) || elements < 0) throw new RangeError(`elements must be a non-negative integer, got ${elements}`);
  if (!Number.isInteger(bucketElements) || bucketElements < 1) throw new RangeError(`bucketElements must be a positive integer, got ${bucketElements}`);
}

/** The all-reduce (mean) schedule of one rank: reduce-scatter, then all-gather. */
export function planRing(rank: number, worldSize: number, elements: number, bucketElements: number): RingPlan {
  checkArgs(rank, worldSize, elements, bucketElements);
  const segments = segmentSpans(elements, worldSize);
  const buckets = segments.map((s) => bucketSpans(s, bucketElements));
  const steps: RingStep[] = [];
  for (let step = 0; step < 2 * (worldSize - 1); step++) {
    const sendSegment = mod(rank - step, worldSize);
    const recvSegment = mod(rank - step - 1, worldSize);
    const phase = step < worldSize - 1 ? 'reduce-scatter' : 'all-gather';
    steps.push({
      step,
      phase,
      sendSegment,
      recvSegment,
      sends: buckets[sendSegment]!,
      recvs: buckets[recvSegment]!,
      recvOp: phase === 'all-gather' ? 'copy' : step === worldSize - 2 ? 'add-divide' : 'add',
      sendAfterRecvOfStep: step > 0 ? step - 1 : undefined,
    });
  }
  return { rank, worldSize, elements, bucketElements, steps, ownedSegment: mod(rank + 1, worldSize) };
}

/**
 * The broadcast schedule of one rank: the root's whole buffer goes round the ring in buckets,
 * each rank overwriting its copy with bucket i and forwarding it at once, except the root's
 * predecessor, which only receives. One step; the root receives nothing.
 */
export function planBroadcast(rank: number, worldSize: number, elements: number, bucketElements: number, root: number): RingPlan {
  checkArgs(rank, worldSize, elements, bucketElements);
  if (!Number.isInteger(root) || root < 0 || root >= worldSize) throw new RangeError(`root must be a rank in 0..${worldSize - 1}, got ${root}`);
  const distance = mod(rank - root, worldSize);
  const all = bucketSpans({ offset: 0, length: elements }, bucketElements);
  const step: RingStep = {
    step: 0,
    phase: 'broadcast',
    sendSegment: -1,
    recvSegment: -1,
    sends: distance < worldSize - 1 ? all : [],
    recvs: distance > 0 ? all : [],
    recvOp: 'copy',
    sendAfterRecvOfStep: distance > 0 ? 0 : undefined,
  };
  return { rank, worldSize, elements, bucketElements, steps: worldSize > 1 ? [step] : [], ownedSegment: -1 };
}
