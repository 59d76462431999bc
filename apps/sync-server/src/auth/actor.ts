/** Who is making a request, as far as the domain cares. Filled by the auth middleware. */
export interface Actor {
  sub: string;
  name: string | null;
  roles: string[];
  /** The DPoP key thumbprint the access token is bound to (its `cnf.jkt`, RFC 9449 §6), if any. */
  jkt?: string;
  /** The OAuth client the token was issued to (`client_id`, else `azp`), if it says. */
  clientId?: string;
}
