import { listOwnerFilter, mayChange, mayCreate, mayRead, type Principal } from './access-policy.js';

const admin: Principal = { keyId: 'k1', owner: 'root', role: 'admin' };
const alice: Principal = { keyId: 'k2', owner: 'alice', role: 'member' };
const viewer: Principal = { keyId: 'k3', owner: 'auditor', role: 'viewer' };

describe('access policy', () => {
  it.each([
    [admin, 'owned', 'bob', true],
    [alice, 'owned', 'alice', true],
    [alice, 'owned', 'bob', false],
    [alice, 'catalogue', 'bob', true],
    [viewer, 'owned', 'bob', true],
  ] as const)('read: %o on a %s resource of %s -> %s', (p, visibility, owner, expected) => {
    expect(mayRead(p, visibility, owner)).toBe(expected);
  });

  it.each([
    [admin, 'bob', true],
    [alice, 'alice', true],
    [alice, 'bob', false],
    [alice, null, false],
    [viewer, 'auditor', false],
  ] as const)('change: %o on a resource of %s -> %s', (p, owner, expected) => {
    expect(mayChange(p, owner)).toBe(expected);
  });

  it('lets admins and members create, not viewers', () => {
    expect([admin, alice, viewer].map(mayCreate)).toEqual([true, true, false]);
  });

  it('filters member lists of owned resources to their own', () => {
    expect(listOwnerFilter(alice, 'owned')).toBe('alice');
    expect(listOwnerFilter(alice, 'catalogue')).toBeUndefined();
    expect(listOwnerFilter(admin, 'owned')).toBeUndefined();
  });
});
