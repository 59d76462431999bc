/** Who is making a request, as far as the domain cares. Filled by the auth middleware. */
export interface Actor {
  sub: string;
  name: string | null;
  roles: string[];
}
