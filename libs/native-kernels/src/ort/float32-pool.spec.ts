import { Float32Pool } from './float32-pool.js';

/** Notes (max pooling's window codes) must never outlive the tensors they describe. */
describe('Float32Pool notes', () => {
  function outputOf(pool: Float32Pool, source: Float32Array): { y: Float32Array; note: Uint32Array } {
    const y = pool.alloc(16_384);
    const note = pool.allocNote(16_384);
    note.fill(7);
    pool.attachNote(y, source, note);
    pool.retain(y);
    return { y, note };
  }

  it('returns the note while the output and its source are the same live tensors', () => {
    const pool = new Float32Pool();
    const x = new Float32Array(65_536);
    pool.retain(x);
    const { y, note } = outputOf(pool, x);
    expect(pool.noteOf(y, x)).toBe(note);
    // Another tensor of the same storage (a reshape) keeps it alive.
    pool.retain(x);
    pool.release(x);
    expect(pool.noteOf(y, x)).toBe(note);
  });

  it('gives nothing for another source, or once the source was freed, even if its storage is reused', () => {
    const pool = new Float32Pool();
    const x = new Float32Array(65_536);
    const other = new Float32Array(65_536);
    pool.retain(x);
    pool.retain(other);
    const { y } = outputOf(pool, x);
    expect(pool.noteOf(y, other)).toBeUndefined();
    pool.release(x);
    expect(pool.noteOf(y, x)).toBeUndefined();
    // The same array back as a new tensor is not the tensor the codes were computed from.
    pool.retain(x);
    expect(pool.noteOf(y, x)).toBeUndefined();
  });

  it('recycles the note with its output, and never attaches to a source no tensor holds', () => {
    const pool = new Float32Pool();
    const x = new Float32Array(65_536);
    pool.retain(x);
    const { y, note } = outputOf(pool, x);
    pool.release(y);
    expect(pool.noteOf(y, x)).toBeUndefined();
    expect(pool.allocNote(16_384)).toBe(note);
    const loose = new Float32Array(65_536);
    const y2 = pool.alloc(16_384);
    const note2 = pool.allocNote(16_384);
    pool.attachNote(y2, loose, note2);
    expect(pool.noteOf(y2, loose)).toBeUndefined();
    expect(pool.allocNote(16_384)).toBe(note2);
  });
});
