import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  DicomSummarySchema,
  EVENT_TYPES,
  OutboxEntrySchema,
  StoredXrayEventSchema,
  XRAY_EVENT_EXAMPLES,
  XRAY_EVENT_SCHEMAS,
  XrayEventSchema,
} from '../src/index.ts';

/** Parsed by `schema` and nothing dropped on the way: every field of `value` is declared. */
function expectExactly(schema: { parse(v: unknown): unknown }, value: unknown): void {
  expect(schema.parse(value)).toEqual(value);
}

describe('published event schemas (schema version 2)', () => {
  it('has one example per event type, each exactly its type’s schema', () => {
    expect(Object.keys(XRAY_EVENT_EXAMPLES).sort()).toEqual([...EVENT_TYPES].sort());
    expect(Object.keys(XRAY_EVENT_SCHEMAS).sort()).toEqual([...EVENT_TYPES].sort());
    for (const type of EVENT_TYPES) {
      const example = XRAY_EVENT_EXAMPLES[type];
      expect(example.type).toBe(type);
      expectExactly(XRAY_EVENT_SCHEMAS[type], example);
      expectExactly(XrayEventSchema, example);
    }
  });

  it('links, sequence and schemaVersion are required; xray.deleted has no links', () => {
    const { links: _links, ...unlinked } = XRAY_EVENT_EXAMPLES['xray.uploaded'];
    expect(XrayEventSchema.safeParse(unlinked).success).toBe(false);
    const { sequence: _sequence, ...unsequenced } = XRAY_EVENT_EXAMPLES['xray.updated'];
    expect(XrayEventSchema.safeParse(unsequenced).success).toBe(false);
    expect(XrayEventSchema.safeParse({ ...XRAY_EVENT_EXAMPLES['xray.updated'], sequence: 0 }).success).toBe(false);
    expect(XrayEventSchema.safeParse({ ...XRAY_EVENT_EXAMPLES['xray.uploaded'], schemaVersion: 1 }).success).toBe(
      false,
    );
    expect(
      XrayEventSchema.safeParse({ ...XRAY_EVENT_EXAMPLES['xray.uploaded'], links: { self: '/xrays/x', download: '' } })
        .success,
    ).toBe(false);
    expect(XRAY_EVENT_EXAMPLES['xray.deleted']).not.toHaveProperty('links');
  });

  it('a DICOM summary keeps the technical tags and drops the patient’s', () => {
    const tags = {
      patientId: 'PAT-0001',
      patientName: 'DOE^JANE',
      modality: 'DX',
      studyInstanceUid: '1.2.3',
      rows: 2048,
    };
    expect(DicomSummarySchema.parse(tags)).toEqual({ modality: 'DX', studyInstanceUid: '1.2.3', rows: 2048 });
    expect(Object.keys(DicomSummarySchema.shape)).not.toContain('patientName');
    expect(Object.keys(DicomSummarySchema.shape)).not.toContain('patientId');
  });
});

describe('events the outbox still holds from schema version 1', () => {
  const v1 = {
    id: '0b8e5d1f-2c3a-4e6b-8f7d-9a1c2b3d4e5f',
    type: 'xray.updated',
    occurredAt: '2026-11-27T09:02:40.512Z',
    source: 'xray-sync-server',
    xrayId: '3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13',
    data: {
      xray: {
        id: '3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13',
        patientId: 'P-1001',
        consultationId: null,
        capturedAt: '2026-11-27T08:15:00.000Z',
        capturedBy: { sub: 'paramedic-7', name: null },
        deviceId: null,
        bodyPart: 'CHEST',
        view: 'PA',
        priority: 'urgent',
        contentType: 'image/png',
        sizeBytes: 10,
        sha256: 'a'.repeat(64),
        link: { status: 'unchecked' },
        uploadedAt: '2026-11-27T08:31:02.118Z',
      },
      changes: { notes: { before: null, after: null, withheld: true } },
      cause: 'correction',
      by: { sub: 'paramedic-7' },
    },
  };

  it('are read (and delivered) as written, marked schemaVersion 1', () => {
    expect(StoredXrayEventSchema.parse(v1)).toEqual({ ...v1, schemaVersion: 1 });
    expect(XrayEventSchema.safeParse(v1).success).toBe(false);
  });

  it('a version 2 event that does not match its schema is not taken for a version 1 one', () => {
    const { links: _links, ...broken } = XRAY_EVENT_EXAMPLES['xray.uploaded'];
    expect(StoredXrayEventSchema.safeParse(broken).success).toBe(false);
  });

  it('GET /admin/outbox lists either', () => {
    const entry = { id: v1.id, type: v1.type, xrayId: v1.xrayId, createdAt: v1.occurredAt, deliveries: [] };
    expect(OutboxEntrySchema.safeParse({ ...entry, event: v1 }).success).toBe(true);
    const current = XRAY_EVENT_EXAMPLES['xray.uploaded'];
    expect(OutboxEntrySchema.safeParse({ ...entry, id: current.id, event: current }).success).toBe(true);
  });
});

describe('docs/events.md', () => {
  it('shows each event type, and every example in it is a valid event', async () => {
    const md = await readFile(new URL('../../../docs/events.md', import.meta.url), 'utf8');
    const blocks = [...md.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1] ?? ''));
    const events = blocks.filter((b) => typeof b === 'object' && b !== null && 'type' in b);
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(EVENT_TYPES));
    for (const e of events) expectExactly(XrayEventSchema, e);
  });
});
