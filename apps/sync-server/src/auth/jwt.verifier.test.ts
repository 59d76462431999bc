import { describe, expect, it } from 'vitest';
import { actorFromClaims, rolesFromClaims } from './jwt.verifier.ts';

describe('claims to actor', () => {
  it('reads roles from a dotted claim path (Keycloak realm_access.roles), keeping only known roles', () => {
    const claims = { sub: 'u1', realm_access: { roles: ['offline_access', 'doctor', 'uma_authorization', 'doctor'] } };
    expect(rolesFromClaims(claims, ['realm_access', 'roles'])).toEqual(['doctor']);
    expect(rolesFromClaims(claims, ['roles'])).toEqual([]);
    expect(rolesFromClaims({ roles: 'paramedic admin' }, ['roles'])).toEqual(['paramedic', 'admin']);
    expect(rolesFromClaims({ roles: { admin: true } }, ['roles'])).toEqual([]);
    expect(rolesFromClaims({ a: ['admin'] }, ['a', 'b'])).toEqual([]);
  });

  it('takes the name from name, else preferred_username, else none', () => {
    expect(actorFromClaims({ sub: 's', name: 'Dana', preferred_username: 'dd', roles: ['doctor'] }, ['roles'])).toEqual(
      {
        sub: 's',
        name: 'Dana',
        roles: ['doctor'],
      },
    );
    expect(actorFromClaims({ sub: 's', preferred_username: 'dd' }, ['roles']).name).toBe('dd');
    expect(actorFromClaims({ sub: 's' }, ['roles']).name).toBeNull();
  });
});
