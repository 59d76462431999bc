import type { Roster } from '@xray/shared';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { checkPatient, identityOverrideFor } from '../../capture/patient-check.ts';
import { PatientHold } from './PatientHold.tsx';

const roster: Roster = {
  generatedAt: '2026-12-06T10:00:00Z',
  patients: [{ id: 'P-1001', name: 'Maria Keller', birthDate: '1957-03-14', sex: 'female' }],
  consultations: [],
};
// The detector still had the previous patient's demographics under the right id.
const file = { patientId: 'P-1001', patientName: 'DOE^JOHN', patientBirthDate: '19800101', patientSex: 'M' };

const render = (decision?: { choice: 'keep_chosen_patient'; reason: string }) =>
  renderToStaticMarkup(
    <PatientHold
      check={checkPatient({ chosenId: 'P-1001', file, roster })}
      chosenId="P-1001"
      filePatientId="P-1001"
      decision={decision}
      onUseFile={() => undefined}
      onDecision={() => undefined}
    />,
  );

describe('the identity warning on the device', () => {
  it('names every field that differs, the file against the patient list, as its own line', () => {
    const html = render();
    expect(html).toContain('data-testid="patient-hold"');
    expect(html).toContain('<li>The file names DOE, JOHN, the roster Maria Keller.</li>');
    expect(html).toContain(
      '<li>The file&#x27;s birth date is 1980-01-01, the patient list&#x27;s 1957-03-14. The file&#x27;s sex is M, the patient list&#x27;s female.</li>',
    );
    // The explicit override, not yet chosen: no reason field.
    expect(html).toContain('aria-pressed="false"');
    expect(html).toContain('Keep P-1001 anyway (override)');
    expect(html).not.toContain('id="hold-reason"');
  });

  it('keeping the patient asks why, and says which of the file’s fields it overrides', () => {
    const html = render({ choice: 'keep_chosen_patient', reason: '' });
    expect(html).toContain('aria-pressed="true"');
    expect(html).toContain('for="hold-reason"');
    expect(html).toContain('Overrides the file&#x27;s name, birth date, sex.');
  });

  it('the override the capture then carries: those fields, the reason, when', () => {
    const check = checkPatient({ chosenId: 'P-1001', file, roster });
    expect(identityOverrideFor(check, { choice: 'keep_chosen_patient', reason: ' ' }, '2026-12-06T10:05:00Z')).toEqual(
      {},
    );
    expect(
      identityOverrideFor(
        check,
        { choice: 'keep_chosen_patient', reason: ' Detector kept the last patient ' },
        '2026-12-06T10:05:00Z',
      ),
    ).toEqual({
      identityOverride: {
        fields: ['patientName', 'patientBirthDate', 'patientSex'],
        reason: 'Detector kept the last patient',
        decidedAt: '2026-12-06T10:05:00Z',
      },
    });
    expect(identityOverrideFor(check, { choice: 'use_file_patient' }, '2026-12-06T10:05:00Z')).toEqual({});
  });
});

describe('the issuer hold on the device', () => {
  // Maria Keller's id and demographics, but the PatientID issued by the clinic the patient came from.
  const clinic = { patientId: 'P-1001', issuerOfPatientId: 'CLINIC-B', patientName: 'KELLER^MARIA' };
  const renderIssuer = (decision?: { choice: 'keep_chosen_patient'; reason: string }) =>
    renderToStaticMarkup(
      <PatientHold
        check={checkPatient({ chosenId: 'P-1001', file: clinic, roster, issuer: 'HOSPITAL-A' })}
        chosenId="P-1001"
        filePatientId="P-1001"
        decision={decision}
        onUseFile={() => undefined}
        onDecision={() => undefined}
      />,
    );

  it('says whose id the file\'s is, offers no "use the file\'s patient" (not ours), and keeping it overrides the patient ID', () => {
    const html = renderIssuer();
    expect(html).toContain(
      '<li>This file&#x27;s patient id P-1001 was issued by CLINIC-B, not by this hospital (HOSPITAL-A): it may be another person.</li>',
    );
    expect(html).not.toContain('Use the file');
    expect(html).toContain('Keep P-1001 anyway (override)');
    expect(renderIssuer({ choice: 'keep_chosen_patient', reason: '' })).toContain(
      'Overrides the file&#x27;s patient ID.',
    );
  });

  it("no hold without the hospital's issuer (the server names none): the file is P-1001 as before", () => {
    expect(checkPatient({ chosenId: 'P-1001', file: clinic, roster }).holds).toEqual([]);
  });
});
