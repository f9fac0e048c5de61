import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { confinePath, PathNotAllowedError } from './confined-path.js';

describe('confinePath', () => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'mf-confine-')));
  const root = join(base, 'root');
  const other = join(base, 'other-root');
  const outside = join(base, 'outside');
  beforeAll(() => {
    for (const d of [root, other, outside, join(root, 'data')]) mkdirSync(d, { recursive: true });
    writeFileSync(join(outside, 'secret'), 'SECRET');
    writeFileSync(join(root, 'data', 'clinical.csv'), 'a,b\n');
    symlinkSync(outside, join(root, 'out'));
    symlinkSync(join(root, 'data'), join(root, 'in'));
    symlinkSync(join(other), join(root, 'to-other'));
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  const refusal = (input: string, roots = [root]) =>
    confinePath(input, roots, 'body.dataPath').then(
      () => 'accepted',
      (err: unknown) => (err instanceof PathNotAllowedError ? `${err.field}: ${err.reason}` : String(err)),
    );

  it('gives the real path of what lies under a root, links inside the roots resolved', async () => {
    await expect(confinePath(join(root, 'data'), [root], 'f')).resolves.toBe(join(root, 'data'));
    await expect(confinePath(join(root, 'in', 'clinical.csv'), [root], 'f')).resolves.toBe(join(root, 'data', 'clinical.csv'));
    await expect(confinePath(relative(process.cwd(), join(root, 'data')), [root], 'f')).resolves.toBe(join(root, 'data'));
    await expect(confinePath(root, [root], 'f')).resolves.toBe(root);
    // A link from one root into another is fine.
    await expect(confinePath(join(root, 'to-other'), [root, other], 'f')).resolves.toBe(other);
  });

  it.each([
    ['an absolute path outside', () => '/etc', 'outside-roots'],
    ['/proc/self/environ', () => '/proc/self/environ', 'outside-roots'],
    ['../.. out of a root', () => `${root}/../..`, 'outside-roots'],
    ['a relative path climbing out', () => relative(process.cwd(), outside), 'outside-roots'],
    ['a sibling whose name starts like the root', () => `${root}-evil`, 'outside-roots'],
    ['a link inside the root leading out', () => join(root, 'out'), 'link-outside'],
    ['a file behind that link', () => join(root, 'out', 'secret'), 'link-outside'],
    ['a link into a folder that is not a root', () => join(root, 'to-other'), 'link-outside'],
    ['a file:// URL', () => `file://${root}/data`, 'not-a-path'],
    ['a NUL byte', () => `${root}/data\0`, 'not-a-path'],
    ['a missing path under the root', () => join(root, 'nope'), 'missing'],
  ])('refuses %s, naming the field', async (_what, input, reason) => {
    await expect(refusal(input())).resolves.toBe(`body.dataPath: ${reason}`);
  });

  it('says nothing about whether a path outside the roots exists', async () => {
    const there = await confinePath(join(outside, 'secret'), [root], 'f').catch((e: PathNotAllowedError) => e.detail);
    const notThere = await confinePath(join(outside, 'nothing'), [root], 'f').catch((e: PathNotAllowedError) => e.detail);
    expect(String(there).replace('secret', 'X')).toBe(String(notThere).replace('nothing', 'X'));
  });

  it('accepts nothing when no root exists', async () => {
    await expect(refusal(join(root, 'data'), [join(base, 'missing-root')])).resolves.toBe('body.dataPath: outside-roots');
  });
});
