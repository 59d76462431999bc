import type { FhirAuditBundle, FhirAuditEvent } from '@xray/shared';
import { canonicalJson } from './audit.hash.ts';
import type { AuditRecord } from './audit.repository.ts';

// Code systems of FHIR R4 AuditEvent (https://hl7.org/fhir/R4/auditevent.html) and IHE BALP.
const EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const RESTFUL_INTERACTION = 'http://hl7.org/fhir/restful-interaction';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type';
const SECURITY_ROLE_TYPE = 'http://terminology.hl7.org/CodeSystem/extra-security-role-type';
const BALP_ENTITY_TYPE = 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType';
// This service's own codes: the exact action, the roles it knows, the patient ids it is given.
const ACTION_SYSTEM = 'https://xray-service.dev/fhir/CodeSystem/audit-action';
const ROLE_SYSTEM = 'https://xray-service.dev/fhir/CodeSystem/role';
const PATIENT_ID_SYSTEM = 'https://xray-service.dev/fhir/sid/patient-id';
/** AuditEvent.agent.network.type: 2 = IP address. */
const NETWORK_IP_ADDRESS = '2' as const;

type Interaction = { code: string; display: string; action: NonNullable<FhirAuditEvent['action']> };

/** Our actions as FHIR RESTful interactions (a list is a search: action E, as IHE BALP does). */
const INTERACTIONS: Record<string, Interaction> = {
  'xray.create': { code: 'create', display: 'create', action: 'C' },
  'xray.read': { code: 'read', display: 'read', action: 'R' },
  'xray.download': { code: 'read', display: 'read', action: 'R' },
  'xray.preview': { code: 'read', display: 'read', action: 'R' },
  'xray.list': { code: 'search-type', display: 'search type', action: 'E' },
  'xray.changes': { code: 'search-type', display: 'search type', action: 'E' },
  'xray.update': { code: 'update', display: 'update', action: 'U' },
  'xray.delete': { code: 'delete', display: 'delete', action: 'D' },
  'audit.list': { code: 'search-type', display: 'search type', action: 'E' },
};

/** FHIR ids: 1–64 of [A-Za-z0-9-.]; other patient ids are referenced by identifier only. */
const FHIR_ID = /^[A-Za-z0-9.-]{1,64}$/;

const detailsOf = (r: AuditRecord): Record<string, unknown> =>
  r.details !== null && typeof r.details === 'object' && !Array.isArray(r.details) ? { ...r.details } : {};

function outcomeOf(r: AuditRecord, details: Record<string, unknown>): Pick<FhirAuditEvent, 'outcome' | 'outcomeDesc'> {
  if (r.outcome === 'success') return { outcome: '0' };
  const reason = typeof details.reason === 'string' ? details.reason : undefined;
  const desc = reason ?? (typeof details.error === 'string' ? details.error : undefined);
  // Denials and client errors are minor failures (4); the server failing is serious (8).
  const serious = r.outcome === 'failed' && typeof details.status === 'number' && details.status >= 500;
  return { outcome: serious ? '8' : '4', ...(desc ? { outcomeDesc: desc } : {}) };
}

export interface FhirSource {
  /** Where the service runs (its public URL or host name). */
  site: string;
  /** The OIDC issuer that vouches for actors' `sub`, when known. */
  issuer?: string;
}

/** One audit event as a FHIR R4 AuditEvent resource. */
export function toFhirAuditEvent(r: AuditRecord, source: FhirSource): FhirAuditEvent {
  const details = detailsOf(r);
  const attempted = typeof details.attempted === 'string' ? details.attempted : undefined;
  const interaction = INTERACTIONS[r.action] ?? (attempted ? INTERACTIONS[attempted] : undefined);

  const entity: NonNullable<FhirAuditEvent['entity']> = [];
  if (r.xrayId) {
    entity.push({
      what: {
        identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${r.xrayId}` },
        display: `X-ray ${r.xrayId}`,
      },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
    });
  }
  if (r.patientId) {
    entity.push({
      what: {
        ...(FHIR_ID.test(r.patientId) ? { reference: `Patient/${r.patientId}` } : {}),
        identifier: { system: PATIENT_ID_SYSTEM, value: r.patientId },
      },
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
      role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
    });
  }
  if (interaction?.action === 'E' && details.filters !== undefined) {
    entity.push({
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '24', display: 'Query' },
      query: Buffer.from(canonicalJson(details.filters)).toString('base64'),
    });
  }
  if (r.requestId) {
    entity.push({
      what: { identifier: { value: r.requestId } },
      type: { system: BALP_ENTITY_TYPE, code: 'XrequestId', display: 'XrequestId' },
    });
  }

  return {
    resourceType: 'AuditEvent',
    id: r.id,
    type: { system: EVENT_TYPE, code: 'rest', display: 'RESTful Operation' },
    subtype: [
      ...(interaction ? [{ system: RESTFUL_INTERACTION, code: interaction.code, display: interaction.display }] : []),
      { system: ACTION_SYSTEM, code: r.action },
    ],
    ...(interaction ? { action: interaction.action } : {}),
    recorded: r.at.toISOString(),
    ...outcomeOf(r, details),
    agent: [
      {
        type: { coding: [{ system: SECURITY_ROLE_TYPE, code: 'humanuser', display: 'human user' }] },
        ...(r.actorRoles.length
          ? { role: r.actorRoles.map((role) => ({ coding: [{ system: ROLE_SYSTEM, code: role }], text: role })) }
          : {}),
        who: r.actorSub
          ? { identifier: { ...(source.issuer ? { system: source.issuer } : {}), value: r.actorSub } }
          : { display: 'unauthenticated client' },
        requestor: true,
        ...(r.clientIp ? { network: { address: r.clientIp, type: NETWORK_IP_ADDRESS } } : {}),
      },
    ],
    source: {
      site: source.site,
      observer: { display: 'xray-sync-server' },
      type: [{ system: SOURCE_TYPE, code: '4', display: 'Application Server' }],
    },
    ...(entity.length ? { entity } : {}),
  };
}

/** A page of events as a FHIR searchset Bundle; `next` links to the following page. */
export function toFhirBundle(
  events: AuditRecord[],
  source: FhirSource,
  links: { self: string; next: string | null },
): FhirAuditBundle {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    link: [{ relation: 'self', url: links.self }, ...(links.next ? [{ relation: 'next', url: links.next }] : [])],
    entry: events.map((e) => ({ resource: toFhirAuditEvent(e, source) })),
  };
}
