import type { Role } from '@xray/shared';

export interface DemoUser {
  sub: string;
  name: string;
  roles: Role[];
}

/** Demo users, by login name. Two paramedics so "only what they captured" can be seen. */
export const DEMO_USERS = {
  paramedic: { sub: 'demo-paramedic', name: 'Pat Paramedic', roles: ['paramedic'] },
  paramedic2: { sub: 'demo-paramedic-2', name: 'Sam Second-Paramedic', roles: ['paramedic'] },
  doctor: { sub: 'demo-doctor', name: 'Dana Doctor', roles: ['doctor'] },
  admin: { sub: 'demo-admin', name: 'Alex Admin', roles: ['admin'] },
} as const satisfies Record<string, DemoUser>;
export type DemoUserName = keyof typeof DEMO_USERS;

export const isDemoUserName = (v: unknown): v is DemoUserName =>
  typeof v === 'string' && Object.prototype.hasOwnProperty.call(DEMO_USERS, v);

export const userBySub = (sub: string): { login: DemoUserName; user: DemoUser } | undefined => {
  for (const login of Object.keys(DEMO_USERS)) {
    if (isDemoUserName(login) && DEMO_USERS[login].sub === sub) return { login, user: DEMO_USERS[login] };
  }
  return undefined;
};
