import { parseArgs } from 'node:util';
import { backfillIdentity, MAX_SERVICE_FAILURES_IN_A_ROW } from '../ingest/identity.backfill.ts';
import { createLogger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { writeRecord } from '../xrays/xray-record.ts';
import { createXrayService } from '../xrays/xray.service.ts';
import { EXIT, type Command } from './command.ts';
import { serverIntegrations, withRestoreTools } from './restore.setup.ts';

const usage = `xray-admin identity-check [--dry-run] [--no-patient-service] [--recheck-issuers]

Checks the patient identity of the X-rays stored before it was checked at ingest (identity
unknown, reason not_checked), as ingest checks it: the DICOM file's PatientID, PatientName,
PatientBirthDate and PatientSex, read from its stored header (decrypted to the pixel data, never
the pixels), against the patient it is stored under and the Patient Service's record of that
patient (PATIENT_SERVICE_URL, with its timeout and retries). A PNG or JPEG names no patient:
unknown, not_dicom. Each X-ray checked is written in its own transaction, its link with it as the
Patient Service answers now under the file rule (a file naming another patient: invalid,
file_patient_mismatch), with a change-feed entry, an xray.updated event and an xray.update audit
event (cause identity_check) and, for a new mismatch, the xray.identity_mismatch event (cause
identity_check), for a link become invalid xray.link_invalid. Prints the counts, then one line per
mismatch (the X-ray id and the fields that differ); on stderr, one line per X-ray that could not be
checked and any warning. Never a patient's name or data. An X-ray whose header cannot be read, or
whose patient the Patient Service does not answer for, stays not_checked: run the command again
later (exit 1). After ${MAX_SERVICE_FAILURES_IN_A_ROW} Patient Service failures in a row the run stops (exit 1): the
rest stay not_checked. Safe while servers run, and to run again (what was checked is not checked
again). --dry-run decides and prints, writes nothing. Uses the server's settings (DATABASE_URL,
the store, the KEKs, PATIENT_SERVICE_URL). Without PATIENT_SERVICE_URL only the file's PatientID is
compared (never the name, birth date or sex): the command refuses to run (exit 2) unless given
--no-patient-service.

With PATIENT_ID_ISSUER set (our patient ids' assigning authority), every run also decides again
the X-rays already checked whose recorded IssuerOfPatientID (the resource's dicom.issuerOfPatientId)
names another authority while their identity does not say so (checked before the setting was on):
their PatientID is another hospital's, a patientId mismatch (hint other_issuer), and their link
invalid (file_patient_mismatch), written and reported as above (an xray.link_invalid event when the
link changes; the file's issuer, read from the header, recorded in the row when it lacked it).
--recheck-issuers: also reads again the header of every DICOM X-ray already checked whose row
records no issuer (stored before issuers were recorded, or the file names none) and does the same
for those another authority issued; the others are left as they are. Run it once after turning
PATIENT_ID_ISSUER on; it reads a header per such X-ray each time (one line says how many). Refused
(exit 2) without PATIENT_ID_ISSUER.`;

/** `xray-admin identity-check`: the identity check of X-rays stored before it existed. */
export const identityCheckCommand: Command = {
  name: 'identity-check',
  summary:
    'Check the patient identity of X-rays stored before identity was checked at ingest (not_checked), and of those another authority issued (PATIENT_ID_ISSUER)',
  usage,

  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        'dry-run': { type: 'boolean', default: false },
        'no-patient-service': { type: 'boolean', default: false },
        'recheck-issuers': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      io.out(usage);
      return EXIT.ok;
    }
    const dryRun = values['dry-run'];
    const recheckIssuers = values['recheck-issuers'];
    return withRestoreTools(io.env, async ({ config, pool, store, keys }) => {
      if (recheckIssuers && !config.integrations.patientIdIssuer?.trim()) {
        io.err('PATIENT_ID_ISSUER is not set: --recheck-issuers has no assigning authority to compare the files with.');
        return EXIT.failed;
      }
      if (!config.integrations.patientService.url) {
        io.err(
          "PATIENT_SERVICE_URL is not set: only the file's PatientID can be compared with the X-ray's patient " +
            '(never the name, birth date or sex), and what is decided is not checked again.',
        );
        if (!values['no-patient-service']) {
          io.err('Set PATIENT_SERVICE_URL, or pass --no-patient-service to check without it.');
          return EXIT.failed;
        }
      }
      // On stderr: stdout is the report only.
      const log = createLogger('warn', 'json', 2);
      const { links, outbox } = serverIntegrations({ config, pool, store, keys }, log);
      const xrays = createXrayService({ pool, store, keys, log, metrics: createMetrics(), links, outbox });
      const report = await backfillIdentity(
        {
          pool,
          links,
          outbox,
          get: (id) => xrays.get(id),
          openContent: (x, range) => xrays.openContent(x, range),
          writeRecord: (x) => writeRecord(store, keys, x),
        },
        { dryRun, recheckIssuers },
      );
      const failed = report.failed.length;
      io.out(
        `${dryRun ? 'Would check' : 'Checked'} ${report.checked} X-ray(s): ${report.consistent} consistent, ` +
          `${report.mismatch.length} mismatch, ${report.unknown} unknown; ${failed} failed.` +
          (dryRun ? ' (dry run: nothing written)' : ''),
      );
      for (const m of report.mismatch) io.out(`${m.id}: mismatch (${m.fields.join(', ')})`);
      if (report.issuersRead !== undefined)
        io.out(
          `Read the header of ${report.issuersRead} X-ray(s) already checked that recorded no IssuerOfPatientID ` +
            '(those another authority issued are among the X-rays checked above).',
        );
      for (const f of report.failed) io.err(`${f.id}: ${f.error}`);
      if (report.stoppedAfterServiceFailures)
        io.err(
          `Stopped after ${report.stoppedAfterServiceFailures} Patient Service failures in a row: the X-rays not ` +
            'reached stay not_checked; run the command again once the Patient Service answers.',
        );
      return failed ? EXIT.problem : EXIT.ok;
    });
  },
};
