// Generated from apps/sync-server/openapi.json by `pnpm --filter @xray/sync-server openapi`
// (openapi-typescript). Do not edit: change the route declarations and regenerate.

export interface paths {
    "/xrays": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List X-rays, by capture time or (changedSince) by change sequence
         * @description Paramedics see only what they captured. Every list is audited with the ids it disclosed.
         *
         *     Allowed roles (policy `xray.list`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["listXrays"];
        put?: never;
        /**
         * Upload an X-ray (streamed)
         * @description `multipart/form-data` with the `metadata` part first (JSON: a plain form field, or a part of type `application/json`), then the `file` part (DICOM Part 10, PNG or JPEG; the type is read from the bytes).
         *
         *     The file is streamed and verified (sha256 when declared, type, structure) before anything is stored; a refusal stores nothing.
         *
         *     A client-chosen `id` makes it idempotent: the same id, user, metadata and bytes answers 200 with the stored X-ray.
         *
         *     Allowed roles (policy `xray.create`): paramedic, admin.
         */
        post: operations["createXray"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/xrays/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * An X-ray's metadata
         * @description Allowed roles (policy `xray.read`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["getXray"];
        put?: never;
        post?: never;
        /**
         * Delete an X-ray and its object (the audit trail stays)
         * @description Emits `xray.deleted`. With `If-Match`, deleted only if the X-ray is still that version (412 otherwise: it changed since it was read).
         *
         *     Allowed roles (policy `xray.delete`): admin.
         */
        delete: operations["deleteXray"];
        options?: never;
        head?: never;
        /**
         * Correct patientId, consultationId, bodyPart, view or notes
         * @description Re-verifies the link with the Patient Service, is audited before/after and emits `xray.updated`. With `If-Match`, applied only if the X-ray is still that version (412 otherwise).
         *
         *     Allowed roles (policy `xray.update`): paramedic (only what they captured), doctor, admin.
         */
        patch: operations["updateXray"];
        trace?: never;
    };
    "/xrays/{id}/download": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The original bytes, decrypted as a stream; Range, If-Range and If-None-Match
         * @description Served as the type the X-ray was stored as (`application/dicom`, `image/png` or `image/jpeg`), as an attachment. ETag is the sha256 of the bytes. A failure mid-stream (stored data that does not authenticate) cuts the connection.
         *
         *     Allowed roles (policy `xray.download`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["downloadXray"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        /**
         * The download's headers (size, type, ETag) without its bytes
         * @description Allowed roles (policy `xray.download`): paramedic (only what they captured), doctor, admin.
         */
        head: operations["headXrayDownload"];
        patch?: never;
        trace?: never;
    };
    "/xrays/{id}/preview": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A rendered preview of the X-ray (JPEG, or PNG by Accept)
         * @description The image as a radiographer would see it, scaled to fit `size` × `size` (its aspect ratio kept): a DICOM's first frame through its Modality LUT (rescale), its own window or VOI LUT (else its full range) and MONOCHROME1 inversion; a PNG or JPEG scaled as it is.
         *
         *     Rendered once and kept encrypted at rest (a later request for the same size and type decodes nothing); removed with the X-ray. Audited per X-ray as `xray.preview`.
         *
         *     Allowed roles (policy `xray.read`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["previewXray"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/changes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The change feed: every change of an X-ray after a sequence number, in order
         * @description Each change (created, corrected, link settled, deleted) has a number the server assigns in the order the changes commit: ask with `after` = the last number you processed, and a change committed later never has a smaller one, so following `next` misses nothing and sees each change once.
         *
         *     A deletion is a tombstone (`kind: deleted`, `xray: null`, no patient data). Each other item carries the X-ray as it is now (null if it was deleted since: its tombstone follows).
         *
         *     `more: false` means caught up: poll again later with `after=next`. A paramedic sees the changes of what they captured. Every page is audited (`xray.changes`, with the ids it disclosed).
         *
         *     Allowed roles (policy `xray.list`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["listChanges"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/uploads": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Begin a resumable upload (tus creation, creation-with-upload)
         * @description `Upload-Metadata` carries the X-ray fields (`id`, `sha256`, `patientId`, `consultationId`, `capturedAt`, `deviceId`, `bodyPart`, `view`, `priority`, `notes`, `patientDecision`, `patientDecisionReason`, `identityOverride`; `id` and `sha256` required; `identityOverride` as JSON text) and the data key wrapped for `GET /keys/upload` (`dek`, `kid`). An id that is stored already answers by the repeat rule, as `POST /xrays` does.
         *
         *     Allowed roles (policy `upload.create`): paramedic, admin.
         */
        post: operations["createUpload"];
        delete?: never;
        /**
         * tus discovery: the server's protocol versions, extensions and largest upload
         * @description A CORS preflight (with `Access-Control-Request-Method`) is answered before authentication instead.
         *
         *     Allowed roles (policy `upload.create`): paramedic, admin.
         */
        options: operations["getUploadCapabilities"];
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/uploads/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Abandon an unfinished upload (tus termination)
         * @description A complete upload is an X-ray: it is never removed this way (409 `upload_complete`).
         *
         *     Allowed roles (policy `upload.terminate`): paramedic (only what they captured), admin.
         */
        delete: operations["terminateUpload"];
        /**
         * tus discovery at an upload URL: the same capabilities
         * @description Reads no upload. A CORS preflight is answered before authentication instead.
         *
         *     Allowed roles (policy `upload.create`): paramedic, admin.
         */
        options: operations["getUploadCapabilitiesForUpload"];
        /**
         * How much of the upload the server holds (resume from Upload-Offset)
         * @description A complete upload answers with its X-ray in X-Xray-Id and X-Xray-Sha256, from the database: an end offset always comes with its X-ray. One whose bytes are all in but whose X-ray is not stored yet (its final PATCH is being stored, or was cut off before) is stored first, with the same checks and problems as that PATCH; still being stored elsewhere after the lock timeout: 423 `upload_busy` with Retry-After.
         *
         *     Allowed roles (policy `upload.continue`): paramedic (only what they captured), admin (only what they captured).
         */
        head: operations["getUploadOffset"];
        /**
         * Send the next bytes, from Upload-Offset
         * @description The request that completes the upload verifies and stores the X-ray (decrypt, sha256, type) before it is answered. Repeating the final PATCH at the end offset answers 204 again.
         *
         *     Allowed roles (policy `upload.continue`): paramedic (only what they captured), admin (only what they captured).
         */
        patch: operations["appendUploadChunk"];
        trace?: never;
    };
    "/keys/upload": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The server's upload public key(s) (JWKS, RSA-OAEP-256)
         * @description Edges wrap each X-ray's data key for the current key and send it in the tus `Upload-Metadata` (`dek`, `kid`). No secret: public, cacheable for 5 minutes.
         */
        get: operations["getUploadKeys"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/devices": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Enroll this edge install as a device
         * @description Registers the DPoP key that signed the proof (RFC 9449). Idempotent for the same key: 200 with the device it already is.
         *
         *     Allowed roles (policy `device.enroll`): paramedic, admin.
         */
        post: operations["enrollDevice"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/devices/self/wipe-report": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A revoked (or retired) device reports that it crypto-shredded its data
         * @description Audited as `device.wipe`. The one request a revoked device's token is still served for.
         *
         *     Allowed roles (policy `device.enroll`): paramedic, admin.
         */
        post: operations["reportDeviceWipe"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/admin/devices": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Enrolled devices, whether revoked, and whether each reported its wipe
         * @description Allowed roles (policy `device.manage`): admin.
         */
        get: operations["listDevices"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/admin/devices/{id}/revoke": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Revoke a device (reason required)
         * @description Its requests are refused with 401 `device_revoked` from then on and its unfinished uploads end; the X-rays it delivered stay.
         *
         *     Allowed roles (policy `device.manage`): admin.
         */
        post: operations["revokeDevice"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/roster": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Patients and open consultations, for the device to keep (encrypted) and search offline
         * @description The Patient Service's lists, read through. Every read is audited (`roster.read`): it discloses names and birth dates.
         *
         *     Allowed roles (policy `roster.read`): paramedic.
         */
        get: operations["getRoster"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/studies": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * QIDO-RS: search for studies
         * @description QIDO-RS (PS3.18 10.6): one DICOM JSON dataset per study. No match is 200 with `[]`. Paramedics find only what they captured; each search is audited with the X-rays it disclosed.
         *
         *     Allowed roles (policy `dicomweb.search`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["searchStudies"];
        put?: never;
        /**
         * STOW-RS: store instances
         * @description STOW-RS (PS3.18 10.5): one DICOM Part 10 file per part, streamed (chunked bodies too) into the same ingest as `POST /xrays`: encrypted at rest, linked, announced and audited per instance (`xray.create`). The metadata comes from each header: PatientID; the acquisition (else content, else study) date and time; BodyPartExamined (`UNKNOWN` when absent); ViewPosition (`OTHER` when not one of the API's views); priority `routine`. The SOP Instance UID names the X-ray: the same instance sent again is reported stored (a `Warning` says it was already), other bytes under a stored UID (or another user's X-ray) fail with 0111H. Failure Reasons: A700 larger than MAX_UPLOAD_BYTES, A900 required attributes missing or invalid or another study than the path's, C000 not DICOM or damaged, C122 an encoding not taken, 0110 another failure; each failure is also described in a `Warning` header. A body whose framing breaks is 400 (instances before the break stay stored; sending again is safe).
         *
         *     Allowed roles (policy `xray.create`): paramedic, admin.
         */
        post: operations["storeInstances"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/series": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * QIDO-RS: search for series
         * @description QIDO-RS (PS3.18 10.6): one DICOM JSON dataset per series. No match is 200 with `[]`. Paramedics find only what they captured; each search is audited with the X-rays it disclosed.
         *
         *     Allowed roles (policy `dicomweb.search`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["searchSeries"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/instances": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * QIDO-RS: search for instances
         * @description QIDO-RS (PS3.18 10.6): one DICOM JSON dataset per instance. No match is 200 with `[]`. Paramedics find only what they captured; each search is audited with the X-rays it disclosed.
         *
         *     Allowed roles (policy `dicomweb.search`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["searchInstances"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/studies/{study}/series": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * QIDO-RS: a study's series
         * @description QIDO-RS (PS3.18 10.6): one DICOM JSON dataset per series. No match is 200 with `[]`. Paramedics find only what they captured; each search is audited with the X-rays it disclosed.
         *
         *     Allowed roles (policy `dicomweb.search`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["searchStudySeries"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/studies/{study}/instances": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * QIDO-RS: a study's instances
         * @description QIDO-RS (PS3.18 10.6): one DICOM JSON dataset per instance. No match is 200 with `[]`. Paramedics find only what they captured; each search is audited with the X-rays it disclosed.
         *
         *     Allowed roles (policy `dicomweb.search`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["searchStudyInstances"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/studies/{study}/series/{series}/instances": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * QIDO-RS: a series' instances
         * @description QIDO-RS (PS3.18 10.6): one DICOM JSON dataset per instance. No match is 200 with `[]`. Paramedics find only what they captured; each search is audited with the X-rays it disclosed.
         *
         *     Allowed roles (policy `dicomweb.search`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["searchSeriesInstances"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/studies/{study}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * WADO-RS: the study's instances as stored
         * @description The stored bytes of each instance (its own transfer syntax), decrypted while streamed. Audited per X-ray as a download.
         *
         *     Allowed roles (policy `dicomweb.retrieve`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["retrieveStudy"];
        put?: never;
        /**
         * STOW-RS: store instances of one study
         * @description STOW-RS (PS3.18 10.5): one DICOM Part 10 file per part, streamed (chunked bodies too) into the same ingest as `POST /xrays`: encrypted at rest, linked, announced and audited per instance (`xray.create`). The metadata comes from each header: PatientID; the acquisition (else content, else study) date and time; BodyPartExamined (`UNKNOWN` when absent); ViewPosition (`OTHER` when not one of the API's views); priority `routine`. The SOP Instance UID names the X-ray: the same instance sent again is reported stored (a `Warning` says it was already), other bytes under a stored UID (or another user's X-ray) fail with 0111H. Failure Reasons: A700 larger than MAX_UPLOAD_BYTES, A900 required attributes missing or invalid or another study than the path's, C000 not DICOM or damaged, C122 an encoding not taken, 0110 another failure; each failure is also described in a `Warning` header. A body whose framing breaks is 400 (instances before the break stay stored; sending again is safe).
         *
         *     Allowed roles (policy `xray.create`): paramedic, admin.
         */
        post: operations["storeStudyInstances"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/studies/{study}/series/{series}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * WADO-RS: the series's instances as stored
         * @description The stored bytes of each instance (its own transfer syntax), decrypted while streamed. Audited per X-ray as a download.
         *
         *     Allowed roles (policy `dicomweb.retrieve`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["retrieveSeries"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/studies/{study}/series/{series}/instances/{instance}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * WADO-RS: the instance's instances as stored
         * @description The stored bytes of each instance (its own transfer syntax), decrypted while streamed. Audited per X-ray as a download.
         *
         *     Allowed roles (policy `dicomweb.retrieve`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["retrieveInstance"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/studies/{study}/series/{series}/instances/{instance}/frames/{frames}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * WADO-RS: frames of an instance's pixel data (Retrieve Frames)
         * @description PS3.18 10.4.1.1.4, as OHIF loads `wadors:` images: one part per frame asked, in order. Native (uncompressed, little endian) pixel data: each frame its Rows × Columns × SamplesPerPixel × BitsAllocated/8 bytes, `application/octet-stream` with the stored transfer syntax (Implicit and Explicit VR Little Endian give the same bytes: either may be asked for). Compressed: each frame's bitstream as stored (its fragments concatenated; several frames located by the Basic Offset Table or one fragment each), `application/octet-stream` or, when `type` asks for it, its own media type (`image/jpeg`, `image/jls`, `image/jp2`, `image/dicom-rle`, …), with `transfer-syntax=<stored UID>`. Nothing is transcoded. Only the header and the frames asked are decrypted, never the whole X-ray. Audited per X-ray as a download (`xray.download`, `details.dicomweb: frames`).
         *
         *     Allowed roles (policy `dicomweb.retrieve`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["retrieveInstanceFrames"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/studies/{study}/metadata": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * WADO-RS: the study's metadata (DICOM JSON, bulk data by BulkDataURI)
         * @description One DICOM JSON dataset per instance, from the index written at ingest. Audited per X-ray as a read.
         *
         *     Allowed roles (policy `dicomweb.retrieve`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["retrieveStudyMetadata"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/studies/{study}/series/{series}/metadata": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * WADO-RS: the series's metadata (DICOM JSON, bulk data by BulkDataURI)
         * @description One DICOM JSON dataset per instance, from the index written at ingest. Audited per X-ray as a read.
         *
         *     Allowed roles (policy `dicomweb.retrieve`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["retrieveSeriesMetadata"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/studies/{study}/series/{series}/instances/{instance}/metadata": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * WADO-RS: the instance's metadata (DICOM JSON, bulk data by BulkDataURI)
         * @description One DICOM JSON dataset per instance, from the index written at ingest. Audited per X-ray as a read.
         *
         *     Allowed roles (policy `dicomweb.retrieve`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["retrieveInstanceMetadata"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/studies/{study}/series/{series}/instances/{instance}/rendered": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * WADO-RS: the instance rendered
         * @description The first frame at its own size unless `viewport` says otherwise. The pixels through the Modality LUT (rescale), the VOI (`window`, else the file’s window or VOI LUT Sequence, else its full range) and MONOCHROME1 inversion. Rendered once and kept encrypted at rest; audited per X-ray as `xray.preview`.
         *
         *     Allowed roles (policy `dicomweb.retrieve`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["retrieveInstanceRendered"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/studies/{study}/series/{series}/instances/{instance}/thumbnail": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * WADO-RS: a thumbnail of the instance
         * @description A small rendered image (128 × 128 unless `viewport` says otherwise). The pixels through the Modality LUT (rescale), the VOI (`window`, else the file’s window or VOI LUT Sequence, else its full range) and MONOCHROME1 inversion. Rendered once and kept encrypted at rest; audited per X-ray as `xray.preview`.
         *
         *     Allowed roles (policy `dicomweb.retrieve`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["retrieveInstanceThumbnail"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/studies/{study}/series/{series}/thumbnail": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * WADO-RS: a thumbnail of the series
         * @description A small rendered image (128 × 128 unless `viewport` says otherwise) of the series's first instance. The pixels through the Modality LUT (rescale), the VOI (`window`, else the file’s window or VOI LUT Sequence, else its full range) and MONOCHROME1 inversion. Rendered once and kept encrypted at rest; audited per X-ray as `xray.preview`.
         *
         *     Allowed roles (policy `dicomweb.retrieve`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["retrieveSeriesThumbnail"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/dicom-web/studies/{study}/thumbnail": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * WADO-RS: a thumbnail of the study
         * @description A small rendered image (128 × 128 unless `viewport` says otherwise) of the study's first instance. The pixels through the Modality LUT (rescale), the VOI (`window`, else the file’s window or VOI LUT Sequence, else its full range) and MONOCHROME1 inversion. Rendered once and kept encrypted at rest; audited per X-ray as `xray.preview`.
         *
         *     Allowed roles (policy `dicomweb.retrieve`): paramedic (only what they captured), doctor, admin.
         */
        get: operations["retrieveStudyThumbnail"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The audit trail, filtered, with cursor pagination
         * @description The tamper-evident audit trail, newest first unless `order=asc`. `format=fhir` answers a FHIR R4 Bundle of AuditEvent (`application/fhir+json`) instead. Reading the trail is itself audited.
         *
         *     Allowed roles (policy `audit.read`): admin.
         */
        get: operations["listAuditEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/admin/outbox": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Events not yet delivered to every sink, or given up on
         * @description Events with a delivery still pending (`state=pending`) or dead (`state=dead`); both when `state` is absent. Oldest first, with cursor pagination. Listing is audited.
         *
         *     Allowed roles (policy `outbox.manage`): admin.
         */
        get: operations["listOutbox"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/admin/outbox/{id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Deliver an event again
         * @description Its dead deliveries start over; waiting ones are due now.
         *
         *     Allowed roles (policy `outbox.manage`): admin.
         */
        post: operations["retryOutboxEvent"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/edge-config": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * What the edge app needs before sign-in: issuer, audience, Patient Service, limits, patient id issuer
         * @description Public and readable from any origin: the app reads it before sign-in (and, in development, from another origin).
         */
        get: operations["getEdgeConfig"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness: the process answers */
        get: operations["getLiveness"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness: the database, object storage, the OIDC issuer and the keys are usable */
        get: operations["getReadiness"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * This OpenAPI 3.1 document
         * @description `servers` names this deployment (PUBLIC_URL); the committed copy in the repository uses a relative URL.
         */
        get: operations["getOpenApiDocument"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export interface webhooks {
    "xray.uploaded": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** The `xray.uploaded` event */
        post: operations["onXrayUploadedEvent"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "xray.updated": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** The `xray.updated` event */
        post: operations["onXrayUpdatedEvent"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "xray.deleted": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** The `xray.deleted` event */
        post: operations["onXrayDeletedEvent"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "xray.link_invalid": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** The `xray.link_invalid` event */
        post: operations["onXrayLinkInvalidEvent"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "xray.identity_mismatch": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** The `xray.identity_mismatch` event */
        post: operations["onXrayIdentityMismatchEvent"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export interface components {
    schemas: {
        XrayUploadedEvent: {
            /** @enum {number} */
            schemaVersion: 2;
            /** Format: uuid */
            id: string;
            /** @enum {string} */
            type: "xray.uploaded";
            /** Format: date-time */
            occurredAt: string;
            /** @enum {string} */
            source: "xray-sync-server";
            /** Format: uuid */
            xrayId: string;
            sequence: number;
            data: {
                xray: {
                    /** Format: uuid */
                    id: string;
                    patientId: string;
                    consultationId: string | null;
                    /** Format: date-time */
                    capturedAt: string;
                    capturedBy: {
                        sub: string;
                        name: string | null;
                    };
                    deviceId: string | null;
                    bodyPart: string;
                    view: string;
                    /** @enum {string} */
                    priority: "routine" | "urgent";
                    notes: string | null;
                    /** @enum {string} */
                    contentType: "application/dicom" | "image/png" | "image/jpeg";
                    sizeBytes: number;
                    sha256: string;
                    dicomUidConflict?: boolean;
                    /** Format: date-time */
                    uploadedAt: string;
                    /** @description The number of the latest change of this X-ray (created, corrected, link settled) in the change feed (`GET /changes`); larger means later. */
                    changeSeq: number;
                    link: {
                        /** @enum {string} */
                        status: "verified" | "pending" | "invalid" | "unchecked";
                        reason?: string;
                        /** Format: date-time */
                        checkedAt?: string;
                    };
                    dicom: {
                        modality?: string;
                        bodyPartExamined?: string;
                        viewPosition?: string;
                        studyDate?: string;
                        studyInstanceUid?: string;
                        seriesInstanceUid?: string;
                        sopInstanceUid?: string;
                        rows?: number;
                        columns?: number;
                        bitsAllocated?: number;
                        transferSyntaxUid?: string;
                    } | null;
                    identity?: {
                        /** @enum {string} */
                        status: "consistent" | "mismatch" | "unknown";
                        fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                        overridden: boolean;
                    };
                };
            };
            /** @enum {boolean} */
            scrubbed?: true;
            links: {
                /** Format: uri */
                self: string;
                /** Format: uri */
                download: string;
                /** Format: uri */
                preview?: string;
            };
        };
        XrayUpdatedEvent: {
            /** @enum {number} */
            schemaVersion: 2;
            /** Format: uuid */
            id: string;
            /** @enum {string} */
            type: "xray.updated";
            /** Format: date-time */
            occurredAt: string;
            /** @enum {string} */
            source: "xray-sync-server";
            /** Format: uuid */
            xrayId: string;
            sequence: number;
            data: {
                xray: {
                    /** Format: uuid */
                    id: string;
                    patientId: string;
                    consultationId: string | null;
                    /** Format: date-time */
                    capturedAt: string;
                    capturedBy: {
                        sub: string;
                        name: string | null;
                    };
                    deviceId: string | null;
                    bodyPart: string;
                    view: string;
                    /** @enum {string} */
                    priority: "routine" | "urgent";
                    notes: string | null;
                    /** @enum {string} */
                    contentType: "application/dicom" | "image/png" | "image/jpeg";
                    sizeBytes: number;
                    sha256: string;
                    dicomUidConflict?: boolean;
                    /** Format: date-time */
                    uploadedAt: string;
                    /** @description The number of the latest change of this X-ray (created, corrected, link settled) in the change feed (`GET /changes`); larger means later. */
                    changeSeq: number;
                    link: {
                        /** @enum {string} */
                        status: "verified" | "pending" | "invalid" | "unchecked";
                        reason?: string;
                        /** Format: date-time */
                        checkedAt?: string;
                    };
                    dicom: {
                        modality?: string;
                        bodyPartExamined?: string;
                        viewPosition?: string;
                        studyDate?: string;
                        studyInstanceUid?: string;
                        seriesInstanceUid?: string;
                        sopInstanceUid?: string;
                        rows?: number;
                        columns?: number;
                        bitsAllocated?: number;
                        transferSyntaxUid?: string;
                    } | null;
                    identity?: {
                        /** @enum {string} */
                        status: "consistent" | "mismatch" | "unknown";
                        fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                        overridden: boolean;
                    };
                };
                changes: {
                    [key: string]: {
                        before?: unknown;
                        after?: unknown;
                        /** @enum {boolean} */
                        withheld?: true;
                    };
                };
                /** @enum {string} */
                cause: "correction" | "link_check" | "identity_check" | "dicom_uid_holder";
                by: {
                    sub: string;
                } | null;
            };
            /** @enum {boolean} */
            scrubbed?: true;
            links: {
                /** Format: uri */
                self: string;
                /** Format: uri */
                download: string;
                /** Format: uri */
                preview?: string;
            };
        };
        XrayDeletedEvent: {
            /** @enum {number} */
            schemaVersion: 2;
            /** Format: uuid */
            id: string;
            /** @enum {string} */
            type: "xray.deleted";
            /** Format: date-time */
            occurredAt: string;
            /** @enum {string} */
            source: "xray-sync-server";
            /** Format: uuid */
            xrayId: string;
            sequence: number;
            data: {
                xray: {
                    /** Format: uuid */
                    id: string;
                    patientId: string;
                    consultationId: string | null;
                    sha256: string;
                };
                by: {
                    sub: string;
                } | null;
            };
            /** @enum {boolean} */
            scrubbed?: true;
        };
        XrayLinkInvalidEvent: {
            /** @enum {number} */
            schemaVersion: 2;
            /** Format: uuid */
            id: string;
            /** @enum {string} */
            type: "xray.link_invalid";
            /** Format: date-time */
            occurredAt: string;
            /** @enum {string} */
            source: "xray-sync-server";
            /** Format: uuid */
            xrayId: string;
            sequence: number;
            data: {
                xray: {
                    /** Format: uuid */
                    id: string;
                    patientId: string;
                    consultationId: string | null;
                    /** Format: date-time */
                    capturedAt: string;
                    capturedBy: {
                        sub: string;
                        name: string | null;
                    };
                    deviceId: string | null;
                    bodyPart: string;
                    view: string;
                    /** @enum {string} */
                    priority: "routine" | "urgent";
                    notes: string | null;
                    /** @enum {string} */
                    contentType: "application/dicom" | "image/png" | "image/jpeg";
                    sizeBytes: number;
                    sha256: string;
                    dicomUidConflict?: boolean;
                    /** Format: date-time */
                    uploadedAt: string;
                    /** @description The number of the latest change of this X-ray (created, corrected, link settled) in the change feed (`GET /changes`); larger means later. */
                    changeSeq: number;
                    link: {
                        /** @enum {string} */
                        status: "verified" | "pending" | "invalid" | "unchecked";
                        reason?: string;
                        /** Format: date-time */
                        checkedAt?: string;
                    };
                    dicom: {
                        modality?: string;
                        bodyPartExamined?: string;
                        viewPosition?: string;
                        studyDate?: string;
                        studyInstanceUid?: string;
                        seriesInstanceUid?: string;
                        sopInstanceUid?: string;
                        rows?: number;
                        columns?: number;
                        bitsAllocated?: number;
                        transferSyntaxUid?: string;
                    } | null;
                    identity?: {
                        /** @enum {string} */
                        status: "consistent" | "mismatch" | "unknown";
                        fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                        overridden: boolean;
                    };
                };
                /** @enum {string} */
                reason: "unknown_patient" | "unknown_consultation" | "consultation_of_other_patient" | "file_patient_mismatch";
            };
            /** @enum {boolean} */
            scrubbed?: true;
            links: {
                /** Format: uri */
                self: string;
                /** Format: uri */
                download: string;
                /** Format: uri */
                preview?: string;
            };
        };
        XrayIdentityMismatchEvent: {
            /** @enum {number} */
            schemaVersion: 2;
            /** Format: uuid */
            id: string;
            /** @enum {string} */
            type: "xray.identity_mismatch";
            /** Format: date-time */
            occurredAt: string;
            /** @enum {string} */
            source: "xray-sync-server";
            /** Format: uuid */
            xrayId: string;
            sequence: number;
            data: {
                xray: {
                    /** Format: uuid */
                    id: string;
                    patientId: string;
                    consultationId: string | null;
                    /** Format: date-time */
                    capturedAt: string;
                    capturedBy: {
                        sub: string;
                        name: string | null;
                    };
                    deviceId: string | null;
                    bodyPart: string;
                    view: string;
                    /** @enum {string} */
                    priority: "routine" | "urgent";
                    notes: string | null;
                    /** @enum {string} */
                    contentType: "application/dicom" | "image/png" | "image/jpeg";
                    sizeBytes: number;
                    sha256: string;
                    dicomUidConflict?: boolean;
                    /** Format: date-time */
                    uploadedAt: string;
                    /** @description The number of the latest change of this X-ray (created, corrected, link settled) in the change feed (`GET /changes`); larger means later. */
                    changeSeq: number;
                    link: {
                        /** @enum {string} */
                        status: "verified" | "pending" | "invalid" | "unchecked";
                        reason?: string;
                        /** Format: date-time */
                        checkedAt?: string;
                    };
                    dicom: {
                        modality?: string;
                        bodyPartExamined?: string;
                        viewPosition?: string;
                        studyDate?: string;
                        studyInstanceUid?: string;
                        seriesInstanceUid?: string;
                        sopInstanceUid?: string;
                        rows?: number;
                        columns?: number;
                        bitsAllocated?: number;
                        transferSyntaxUid?: string;
                    } | null;
                    identity?: {
                        /** @enum {string} */
                        status: "consistent" | "mismatch" | "unknown";
                        fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                        overridden: boolean;
                    };
                };
                fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                overridden: boolean;
                override?: {
                    by: {
                        sub: string;
                    };
                    /** Format: date-time */
                    decidedAt: string;
                    fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                };
                /** @enum {string} */
                cause: "upload" | "link_check" | "correction" | "identity_check";
            };
            /** @enum {boolean} */
            scrubbed?: true;
            links: {
                /** Format: uri */
                self: string;
                /** Format: uri */
                download: string;
                /** Format: uri */
                preview?: string;
            };
        };
        Xray: {
            /** Format: uuid */
            id: string;
            patientId: string;
            consultationId: string | null;
            /** Format: date-time */
            capturedAt: string;
            capturedBy: {
                sub: string;
                name: string | null;
            };
            deviceId: string | null;
            bodyPart: string;
            view: string;
            /** @enum {string} */
            priority: "routine" | "urgent";
            notes: string | null;
            /** @enum {string} */
            contentType: "application/dicom" | "image/png" | "image/jpeg";
            sizeBytes: number;
            sha256: string;
            dicom: {
                patientId?: string;
                issuerOfPatientId?: string;
                patientName?: string;
                patientBirthDate?: string;
                patientSex?: string;
                studyDate?: string;
                studyInstanceUid?: string;
                seriesInstanceUid?: string;
                sopInstanceUid?: string;
                modality?: string;
                bodyPartExamined?: string;
                viewPosition?: string;
                rows?: number;
                columns?: number;
                bitsAllocated?: number;
                transferSyntaxUid?: string;
            } | null;
            link: {
                /** @enum {string} */
                status: "verified" | "pending" | "invalid" | "unchecked";
                reason?: string;
                /** Format: date-time */
                checkedAt?: string;
                patient?: {
                    [key: string]: unknown;
                };
                consultation?: {
                    [key: string]: unknown;
                };
                decision?: {
                    /** @enum {string} */
                    choice: "use_file_patient" | "keep_chosen_patient";
                    reason?: string;
                };
            };
            /** @description Whether the DICOM file's own patient (PatientID, PatientName, PatientBirthDate, PatientSex) agrees with the metadata's patientId and the Patient Service record. */
            identity: {
                /** @enum {string} */
                status: "consistent" | "mismatch" | "unknown";
                fields: {
                    /** @enum {string} */
                    field: "patientId" | "patientName" | "patientBirthDate" | "patientSex";
                    file: string;
                    expected: string;
                    /** @enum {string} */
                    source: "metadata" | "patient_service";
                    /** @enum {string} */
                    hint?: "name_order" | "other_issuer";
                }[];
                compared: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                /** @enum {string} */
                reason?: "not_dicom" | "no_patient_tags" | "patient_service_unavailable" | "no_patient_record" | "not_checked";
                override?: {
                    fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                    reason: string;
                    /** Format: date-time */
                    decidedAt: string;
                    by: {
                        sub: string;
                        name: string | null;
                    };
                    /** @enum {string} */
                    from: "identity_override" | "patient_decision";
                };
                overridden: boolean;
                /** Format: date-time */
                checkedAt?: string;
            };
            /**
             * @description True when another file (other bytes), indexed before this one, holds this X-ray's DICOM SOP Instance UID: DICOMweb (QIDO-RS, WADO-RS, frames, rendered) serves that file under the UID, and this X-ray's image only through REST (`GET /xrays/{id}/download`, `/preview`). Judged when read: if the earlier X-ray is deleted, this one takes the UID and the flag is false. Always false for a PNG or JPEG.
             * @default false
             */
            dicomUidConflict?: boolean;
            /** Format: date-time */
            uploadedAt: string;
            /** @description The number of the latest change of this X-ray (created, corrected, link settled) in the change feed (`GET /changes`); larger means later. */
            changeSeq: number;
        };
        /** @description RFC 9457 problem details. `type` is `https://xray-service.dev/problems/<code with dashes>`; `errors[]` names each invalid field. */
        Problem: {
            type: string;
            title: string;
            status: number;
            detail?: string;
            instance?: string;
            code: components["schemas"]["ProblemCode"];
            errors?: {
                field: string;
                message: string;
            }[];
        };
        /**
         * @description What went wrong, for a program to act on (`title` and `detail` are for people):
         *
         *     - `validation_failed` (400): A field, query parameter or part is invalid; `errors[]` names each one.
         *     - `bad_request` (400): The request cannot be read: malformed JSON or multipart, a path id that is not a UUID.
         *     - `unauthenticated` (401): No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`.
         *     - `token_expired` (401): The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`.
         *     - `dpop_required` (401): A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449).
         *     - `dpop_invalid` (401): The DPoP proof is malformed, for another request, too old or too new, or for another token.
         *     - `dpop_replayed` (401): The DPoP proof was already used (same `jti`): a copied request.
         *     - `dpop_key_mismatch` (401): The DPoP proof is signed by another key than the one the token is bound to.
         *     - `device_revoked` (401): An administrator revoked the device: it must wipe itself and report it.
         *     - `forbidden` (403): The caller's role (or relation to the X-ray) does not allow this action.
         *     - `not_found` (404): No such resource or route, or one the caller may not see: the answer is the same, so probing ids tells nothing.
         *     - `method_not_allowed` (405): The path exists but does not take this method; the `Allow` header lists the ones it takes.
         *     - `not_acceptable` (406): The `Accept` header asks for a media type or DICOM transfer syntax this resource is not served as (DICOMweb).
         *     - `request_timeout` (408): The request body stopped arriving; for a tus upload what arrived is kept: resume from `HEAD`.
         *     - `conflict` (409): The X-ray id is already stored and this upload is not an exact replay of it (same user, same details, same bytes; the answer is the same whatever differs), or the upload is busy or already complete; `Retry-After` when it is busy.
         *     - `upload_complete` (409): A tus termination of an upload that is an X-ray now: nothing was removed.
         *     - `xray_deleted` (410): An upload (POST /xrays, or tus creation or completion) under the id of an X-ray that was deleted: its id is never stored again. Final: nothing was stored; do not send it again.
         *     - `precondition_failed` (412): An `If-Match` that is not the X-ray's current `ETag` (it changed since it was read: read it again, then decide), or a missing or unsupported tus protocol header.
         *     - `payload_too_large` (413): The body is larger than allowed (`MAX_UPLOAD_BYTES` for an X-ray).
         *     - `headers_too_large` (431): The request line and headers together pass what the server reads (16 KiB): a cookie jar, a very long `Accept` or query; nothing was done.
         *     - `unsupported_media_type` (415): Not DICOM, PNG or JPEG, a DICOM transfer syntax not accepted, or a request body of the wrong Content-Type.
         *     - `range_not_satisfiable` (416): The `Range` does not fit the file; `Content-Range` gives its length.
         *     - `checksum_mismatch` (422): The bytes received do not match the declared sha256; nothing was stored.
         *     - `ciphertext_invalid` (422): The XRE1 upload does not decrypt with its data key (damaged, truncated or spliced).
         *     - `content_invalid` (422): The file is damaged, cut off, or another format rides along with the image.
         *     - `not_renderable` (422): A rendered image or preview of an X-ray that has no pixel data, or pixels this server does not render (a transfer syntax with no decoder here, a photometric interpretation other than MONOCHROME1/2, RGB or YBR, more than 16 bits), or more pixels or bytes than RENDER_MAX_PIXELS / RENDER_MAX_INPUT_BYTES allow.
         *     - `upload_busy` (423): A tus HEAD of an upload whose bytes are all in while its X-ray is still being stored after the wait for its lock: ask again after `Retry-After` to learn the X-ray.
         *     - `too_many_requests` (429): Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry.
         *     - `too_many_downloads` (429): Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry.
         *     - `client_closed` (499): The client went away before its body was complete (logged; a client rarely sees it).
         *     - `storage_failed` (503): Object storage failed; nothing was done. `Retry-After` says when to retry.
         *     - `render_busy` (503): Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused).
         *     - `unavailable` (503): The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry.
         *     - `internal` (500): A server fault; the request was not completed.
         *     - `integrity_failed` (500): Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash).
         * @enum {string}
         */
        ProblemCode: "validation_failed" | "bad_request" | "unauthenticated" | "token_expired" | "dpop_required" | "dpop_invalid" | "dpop_replayed" | "dpop_key_mismatch" | "device_revoked" | "forbidden" | "not_found" | "method_not_allowed" | "not_acceptable" | "request_timeout" | "conflict" | "upload_complete" | "xray_deleted" | "precondition_failed" | "payload_too_large" | "headers_too_large" | "unsupported_media_type" | "range_not_satisfiable" | "checksum_mismatch" | "ciphertext_invalid" | "content_invalid" | "not_renderable" | "upload_busy" | "too_many_requests" | "too_many_downloads" | "client_closed" | "storage_failed" | "render_busy" | "unavailable" | "internal" | "integrity_failed";
        XrayMetadataInput: {
            /** Format: uuid */
            id?: string;
            patientId: string;
            consultationId?: string;
            /** Format: date-time */
            capturedAt: string;
            deviceId?: string;
            bodyPart: string;
            /** @enum {string} */
            view: "AP" | "PA" | "LL" | "RL" | "LAT" | "OBL" | "LLD" | "RLD" | "OTHER";
            /**
             * @default routine
             * @enum {string}
             */
            priority?: "routine" | "urgent";
            notes?: string;
            sha256?: string;
            /** @enum {string} */
            patientDecision?: "use_file_patient" | "keep_chosen_patient";
            patientDecisionReason?: string;
            identityOverride?: {
                fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                reason: string;
                /** Format: date-time */
                decidedAt: string;
            };
        };
        XrayList: {
            items: {
                /** Format: uuid */
                id: string;
                patientId: string;
                consultationId: string | null;
                /** Format: date-time */
                capturedAt: string;
                capturedBy: {
                    sub: string;
                    name: string | null;
                };
                deviceId: string | null;
                bodyPart: string;
                view: string;
                /** @enum {string} */
                priority: "routine" | "urgent";
                notes: string | null;
                /** @enum {string} */
                contentType: "application/dicom" | "image/png" | "image/jpeg";
                sizeBytes: number;
                sha256: string;
                dicom: {
                    patientId?: string;
                    issuerOfPatientId?: string;
                    patientName?: string;
                    patientBirthDate?: string;
                    patientSex?: string;
                    studyDate?: string;
                    studyInstanceUid?: string;
                    seriesInstanceUid?: string;
                    sopInstanceUid?: string;
                    modality?: string;
                    bodyPartExamined?: string;
                    viewPosition?: string;
                    rows?: number;
                    columns?: number;
                    bitsAllocated?: number;
                    transferSyntaxUid?: string;
                } | null;
                link: {
                    /** @enum {string} */
                    status: "verified" | "pending" | "invalid" | "unchecked";
                    reason?: string;
                    /** Format: date-time */
                    checkedAt?: string;
                    patient?: {
                        [key: string]: unknown;
                    };
                    consultation?: {
                        [key: string]: unknown;
                    };
                    decision?: {
                        /** @enum {string} */
                        choice: "use_file_patient" | "keep_chosen_patient";
                        reason?: string;
                    };
                };
                /** @description Whether the DICOM file's own patient (PatientID, PatientName, PatientBirthDate, PatientSex) agrees with the metadata's patientId and the Patient Service record. */
                identity: {
                    /** @enum {string} */
                    status: "consistent" | "mismatch" | "unknown";
                    fields: {
                        /** @enum {string} */
                        field: "patientId" | "patientName" | "patientBirthDate" | "patientSex";
                        file: string;
                        expected: string;
                        /** @enum {string} */
                        source: "metadata" | "patient_service";
                        /** @enum {string} */
                        hint?: "name_order" | "other_issuer";
                    }[];
                    compared: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                    /** @enum {string} */
                    reason?: "not_dicom" | "no_patient_tags" | "patient_service_unavailable" | "no_patient_record" | "not_checked";
                    override?: {
                        fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                        reason: string;
                        /** Format: date-time */
                        decidedAt: string;
                        by: {
                            sub: string;
                            name: string | null;
                        };
                        /** @enum {string} */
                        from: "identity_override" | "patient_decision";
                    };
                    overridden: boolean;
                    /** Format: date-time */
                    checkedAt?: string;
                };
                /**
                 * @description True when another file (other bytes), indexed before this one, holds this X-ray's DICOM SOP Instance UID: DICOMweb (QIDO-RS, WADO-RS, frames, rendered) serves that file under the UID, and this X-ray's image only through REST (`GET /xrays/{id}/download`, `/preview`). Judged when read: if the earlier X-ray is deleted, this one takes the UID and the flag is false. Always false for a PNG or JPEG.
                 * @default false
                 */
                dicomUidConflict?: boolean;
                /** Format: date-time */
                uploadedAt: string;
                /** @description The number of the latest change of this X-ray (created, corrected, link settled) in the change feed (`GET /changes`); larger means later. */
                changeSeq: number;
            }[];
            nextCursor: string | null;
        };
        XrayUpdate: {
            patientId?: string;
            consultationId?: string | null;
            bodyPart?: string;
            /** @enum {string} */
            view?: "AP" | "PA" | "LL" | "RL" | "LAT" | "OBL" | "LLD" | "RLD" | "OTHER";
            notes?: string | null;
        };
        ChangeFeed: {
            items: {
                seq: number;
                /** @enum {string} */
                kind: "created" | "updated" | "link_settled" | "deleted";
                /** Format: uuid */
                xrayId: string;
                /** Format: date-time */
                at: string;
                xray: {
                    /** Format: uuid */
                    id: string;
                    patientId: string;
                    consultationId: string | null;
                    /** Format: date-time */
                    capturedAt: string;
                    capturedBy: {
                        sub: string;
                        name: string | null;
                    };
                    deviceId: string | null;
                    bodyPart: string;
                    view: string;
                    /** @enum {string} */
                    priority: "routine" | "urgent";
                    notes: string | null;
                    /** @enum {string} */
                    contentType: "application/dicom" | "image/png" | "image/jpeg";
                    sizeBytes: number;
                    sha256: string;
                    dicom: {
                        patientId?: string;
                        issuerOfPatientId?: string;
                        patientName?: string;
                        patientBirthDate?: string;
                        patientSex?: string;
                        studyDate?: string;
                        studyInstanceUid?: string;
                        seriesInstanceUid?: string;
                        sopInstanceUid?: string;
                        modality?: string;
                        bodyPartExamined?: string;
                        viewPosition?: string;
                        rows?: number;
                        columns?: number;
                        bitsAllocated?: number;
                        transferSyntaxUid?: string;
                    } | null;
                    link: {
                        /** @enum {string} */
                        status: "verified" | "pending" | "invalid" | "unchecked";
                        reason?: string;
                        /** Format: date-time */
                        checkedAt?: string;
                        patient?: {
                            [key: string]: unknown;
                        };
                        consultation?: {
                            [key: string]: unknown;
                        };
                        decision?: {
                            /** @enum {string} */
                            choice: "use_file_patient" | "keep_chosen_patient";
                            reason?: string;
                        };
                    };
                    /** @description Whether the DICOM file's own patient (PatientID, PatientName, PatientBirthDate, PatientSex) agrees with the metadata's patientId and the Patient Service record. */
                    identity: {
                        /** @enum {string} */
                        status: "consistent" | "mismatch" | "unknown";
                        fields: {
                            /** @enum {string} */
                            field: "patientId" | "patientName" | "patientBirthDate" | "patientSex";
                            file: string;
                            expected: string;
                            /** @enum {string} */
                            source: "metadata" | "patient_service";
                            /** @enum {string} */
                            hint?: "name_order" | "other_issuer";
                        }[];
                        compared: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                        /** @enum {string} */
                        reason?: "not_dicom" | "no_patient_tags" | "patient_service_unavailable" | "no_patient_record" | "not_checked";
                        override?: {
                            fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                            reason: string;
                            /** Format: date-time */
                            decidedAt: string;
                            by: {
                                sub: string;
                                name: string | null;
                            };
                            /** @enum {string} */
                            from: "identity_override" | "patient_decision";
                        };
                        overridden: boolean;
                        /** Format: date-time */
                        checkedAt?: string;
                    };
                    /**
                     * @description True when another file (other bytes), indexed before this one, holds this X-ray's DICOM SOP Instance UID: DICOMweb (QIDO-RS, WADO-RS, frames, rendered) serves that file under the UID, and this X-ray's image only through REST (`GET /xrays/{id}/download`, `/preview`). Judged when read: if the earlier X-ray is deleted, this one takes the UID and the flag is false. Always false for a PNG or JPEG.
                     * @default false
                     */
                    dicomUidConflict?: boolean;
                    /** Format: date-time */
                    uploadedAt: string;
                    /** @description The number of the latest change of this X-ray (created, corrected, link settled) in the change feed (`GET /changes`); larger means later. */
                    changeSeq: number;
                } | null;
            }[];
            next: number;
            more: boolean;
        };
        UploadJwks: {
            /** @description The current key first; then the previous one during a rotation */
            keys: {
                /** @enum {string} */
                kty: "RSA";
                /** @description Modulus (base64url); at least 3072 bits */
                n: string;
                /** @description Public exponent (base64url): `AQAB` */
                e: string;
                /** @enum {string} */
                alg: "RSA-OAEP-256";
                /** @enum {string} */
                use: "enc";
                /** @description RFC 7638 thumbprint of the key */
                kid: string;
            }[];
            /** @description A previous key's signatures over the current key's thumbprint (a rotation) */
            endorsements?: {
                /** @description kid of the signing (previous) key */
                by: string;
                /** @description kid of the endorsed (current) key */
                for: string;
                /** @description base64url RSA-PSS (SHA-256, 32-byte salt) signature */
                sig: string;
            }[];
        };
        Device: {
            /** Format: uuid */
            id: string;
            name: string;
            enrolledBy: string;
            /** Format: date-time */
            enrolledAt: string;
            /** Format: date-time */
            lastSeenAt: string;
            appVersion: string | null;
            keyThumbprint: string;
            publicKey: {
                [key: string]: unknown;
            };
            revoked: {
                /** Format: date-time */
                at: string;
                by: string;
                reason: string;
            } | null;
            wipe: {
                /** Format: date-time */
                reportedAt: string;
                unsentCaptures: number | null;
            } | null;
        };
        DeviceEnroll: {
            name: string;
            appVersion?: string;
        };
        DeviceWipeReport: {
            unsentCaptures: number;
            /** Format: date-time */
            wipedAt: string;
        };
        DeviceList: {
            items: {
                /** Format: uuid */
                id: string;
                name: string;
                enrolledBy: string;
                /** Format: date-time */
                enrolledAt: string;
                /** Format: date-time */
                lastSeenAt: string;
                appVersion: string | null;
                keyThumbprint: string;
                publicKey: {
                    [key: string]: unknown;
                };
                revoked: {
                    /** Format: date-time */
                    at: string;
                    by: string;
                    reason: string;
                } | null;
                wipe: {
                    /** Format: date-time */
                    reportedAt: string;
                    unsentCaptures: number | null;
                } | null;
            }[];
        };
        DeviceRevokeResult: {
            device: {
                /** Format: uuid */
                id: string;
                name: string;
                enrolledBy: string;
                /** Format: date-time */
                enrolledAt: string;
                /** Format: date-time */
                lastSeenAt: string;
                appVersion: string | null;
                keyThumbprint: string;
                publicKey: {
                    [key: string]: unknown;
                };
                revoked: {
                    /** Format: date-time */
                    at: string;
                    by: string;
                    reason: string;
                } | null;
                wipe: {
                    /** Format: date-time */
                    reportedAt: string;
                    unsentCaptures: number | null;
                } | null;
            };
            endedUploads: number;
        };
        DeviceRevoke: {
            reason: string;
        };
        Roster: {
            patients: {
                id: string;
                name?: string;
                birthDate?: string;
                sex?: string;
            }[];
            consultations: {
                id: string;
                patientId: string;
                startedAt?: string;
                reason?: string;
                status?: string;
            }[];
            /** Format: date-time */
            generatedAt: string;
        };
        /** @description A DICOM JSON dataset (PS3.18 F.2): attributes keyed by tag (8 upper-case hex digits) */
        DicomJsonDataset: {
            [key: string]: components["schemas"]["DicomJsonAttribute"];
        };
        /** @description A DICOM JSON attribute (PS3.18 F.2.2) */
        DicomJsonAttribute: {
            vr: string;
            Value?: unknown[];
            BulkDataURI?: string;
            InlineBinary?: string;
        };
        AuditEventList: {
            items: components["schemas"]["AuditEvent"][];
            nextCursor: string | null;
        };
        AuditEvent: {
            id: string;
            /** Format: date-time */
            at: string;
            actor: {
                sub: string | null;
                roles: string[];
            };
            action: string;
            /** Format: uuid */
            xrayId: string | null;
            patientId: string | null;
            /** @enum {string} */
            outcome: "success" | "denied" | "failed";
            clientIp: string | null;
            userAgent: string | null;
            requestId: string | null;
            details: {
                [key: string]: unknown;
            };
            prevHash: string;
            hash: string;
        };
        FhirAuditEventBundle: {
            /** @enum {string} */
            resourceType: "Bundle";
            /** @enum {string} */
            type: "searchset";
            link: {
                relation: string;
                url: string;
            }[];
            entry: {
                fullUrl?: string;
                resource: {
                    /** @enum {string} */
                    resourceType: "AuditEvent";
                    id: string;
                    type: {
                        system?: string;
                        code: string;
                        display?: string;
                    };
                    subtype?: {
                        system?: string;
                        code: string;
                        display?: string;
                    }[];
                    /** @enum {string} */
                    action?: "C" | "R" | "U" | "D" | "E";
                    recorded: string;
                    /** @enum {string} */
                    outcome: "0" | "4" | "8" | "12";
                    outcomeDesc?: string;
                    agent: {
                        type?: {
                            coding?: {
                                system?: string;
                                code: string;
                                display?: string;
                            }[];
                            text?: string;
                        };
                        role?: {
                            coding?: {
                                system?: string;
                                code: string;
                                display?: string;
                            }[];
                            text?: string;
                        }[];
                        who?: {
                            reference?: string;
                            identifier?: {
                                system?: string;
                                value: string;
                            };
                            display?: string;
                        };
                        requestor: boolean;
                        network?: {
                            address: string;
                            /** @enum {string} */
                            type: "1" | "2" | "3" | "4" | "5";
                        };
                    }[];
                    source: {
                        site?: string;
                        observer: {
                            reference?: string;
                            identifier?: {
                                system?: string;
                                value: string;
                            };
                            display?: string;
                        };
                        type?: {
                            system?: string;
                            code: string;
                            display?: string;
                        }[];
                    };
                    entity?: {
                        what?: {
                            reference?: string;
                            identifier?: {
                                system?: string;
                                value: string;
                            };
                            display?: string;
                        };
                        type?: {
                            system?: string;
                            code: string;
                            display?: string;
                        };
                        role?: {
                            system?: string;
                            code: string;
                            display?: string;
                        };
                        query?: string;
                        detail?: {
                            type: string;
                            valueString: string;
                        }[];
                    }[];
                };
            }[];
        };
        OutboxList: {
            items: {
                /** Format: uuid */
                id: string;
                /** @enum {string} */
                type: "xray.uploaded" | "xray.updated" | "xray.deleted" | "xray.link_invalid" | "xray.identity_mismatch";
                /** Format: uuid */
                xrayId: string | null;
                /** Format: date-time */
                createdAt: string;
                deliveries: {
                    sink: string;
                    /** @enum {string} */
                    state: "pending" | "delivered" | "dead";
                    attempts: number;
                    failures: number;
                    /** Format: date-time */
                    nextAttemptAt: string | null;
                    /** Format: date-time */
                    lastAttemptAt: string | null;
                    lastError: string | null;
                    /** Format: date-time */
                    deliveredAt: string | null;
                }[];
                event: {
                    /** @enum {number} */
                    schemaVersion: 2;
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.uploaded";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    sequence: number;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            /** Format: date-time */
                            capturedAt: string;
                            capturedBy: {
                                sub: string;
                                name: string | null;
                            };
                            deviceId: string | null;
                            bodyPart: string;
                            view: string;
                            /** @enum {string} */
                            priority: "routine" | "urgent";
                            notes: string | null;
                            /** @enum {string} */
                            contentType: "application/dicom" | "image/png" | "image/jpeg";
                            sizeBytes: number;
                            sha256: string;
                            dicomUidConflict?: boolean;
                            /** Format: date-time */
                            uploadedAt: string;
                            /** @description The number of the latest change of this X-ray (created, corrected, link settled) in the change feed (`GET /changes`); larger means later. */
                            changeSeq: number;
                            link: {
                                /** @enum {string} */
                                status: "verified" | "pending" | "invalid" | "unchecked";
                                reason?: string;
                                /** Format: date-time */
                                checkedAt?: string;
                            };
                            dicom: {
                                modality?: string;
                                bodyPartExamined?: string;
                                viewPosition?: string;
                                studyDate?: string;
                                studyInstanceUid?: string;
                                seriesInstanceUid?: string;
                                sopInstanceUid?: string;
                                rows?: number;
                                columns?: number;
                                bitsAllocated?: number;
                                transferSyntaxUid?: string;
                            } | null;
                            identity?: {
                                /** @enum {string} */
                                status: "consistent" | "mismatch" | "unknown";
                                fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                                overridden: boolean;
                            };
                        };
                    };
                    /** @enum {boolean} */
                    scrubbed?: true;
                    links: {
                        /** Format: uri */
                        self: string;
                        /** Format: uri */
                        download: string;
                        /** Format: uri */
                        preview?: string;
                    };
                } | {
                    /** @enum {number} */
                    schemaVersion: 2;
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.updated";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    sequence: number;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            /** Format: date-time */
                            capturedAt: string;
                            capturedBy: {
                                sub: string;
                                name: string | null;
                            };
                            deviceId: string | null;
                            bodyPart: string;
                            view: string;
                            /** @enum {string} */
                            priority: "routine" | "urgent";
                            notes: string | null;
                            /** @enum {string} */
                            contentType: "application/dicom" | "image/png" | "image/jpeg";
                            sizeBytes: number;
                            sha256: string;
                            dicomUidConflict?: boolean;
                            /** Format: date-time */
                            uploadedAt: string;
                            /** @description The number of the latest change of this X-ray (created, corrected, link settled) in the change feed (`GET /changes`); larger means later. */
                            changeSeq: number;
                            link: {
                                /** @enum {string} */
                                status: "verified" | "pending" | "invalid" | "unchecked";
                                reason?: string;
                                /** Format: date-time */
                                checkedAt?: string;
                            };
                            dicom: {
                                modality?: string;
                                bodyPartExamined?: string;
                                viewPosition?: string;
                                studyDate?: string;
                                studyInstanceUid?: string;
                                seriesInstanceUid?: string;
                                sopInstanceUid?: string;
                                rows?: number;
                                columns?: number;
                                bitsAllocated?: number;
                                transferSyntaxUid?: string;
                            } | null;
                            identity?: {
                                /** @enum {string} */
                                status: "consistent" | "mismatch" | "unknown";
                                fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                                overridden: boolean;
                            };
                        };
                        changes: {
                            [key: string]: {
                                before?: unknown;
                                after?: unknown;
                                /** @enum {boolean} */
                                withheld?: true;
                            };
                        };
                        /** @enum {string} */
                        cause: "correction" | "link_check" | "identity_check" | "dicom_uid_holder";
                        by: {
                            sub: string;
                        } | null;
                    };
                    /** @enum {boolean} */
                    scrubbed?: true;
                    links: {
                        /** Format: uri */
                        self: string;
                        /** Format: uri */
                        download: string;
                        /** Format: uri */
                        preview?: string;
                    };
                } | {
                    /** @enum {number} */
                    schemaVersion: 2;
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.deleted";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    sequence: number;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            sha256: string;
                        };
                        by: {
                            sub: string;
                        } | null;
                    };
                    /** @enum {boolean} */
                    scrubbed?: true;
                } | {
                    /** @enum {number} */
                    schemaVersion: 2;
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.link_invalid";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    sequence: number;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            /** Format: date-time */
                            capturedAt: string;
                            capturedBy: {
                                sub: string;
                                name: string | null;
                            };
                            deviceId: string | null;
                            bodyPart: string;
                            view: string;
                            /** @enum {string} */
                            priority: "routine" | "urgent";
                            notes: string | null;
                            /** @enum {string} */
                            contentType: "application/dicom" | "image/png" | "image/jpeg";
                            sizeBytes: number;
                            sha256: string;
                            dicomUidConflict?: boolean;
                            /** Format: date-time */
                            uploadedAt: string;
                            /** @description The number of the latest change of this X-ray (created, corrected, link settled) in the change feed (`GET /changes`); larger means later. */
                            changeSeq: number;
                            link: {
                                /** @enum {string} */
                                status: "verified" | "pending" | "invalid" | "unchecked";
                                reason?: string;
                                /** Format: date-time */
                                checkedAt?: string;
                            };
                            dicom: {
                                modality?: string;
                                bodyPartExamined?: string;
                                viewPosition?: string;
                                studyDate?: string;
                                studyInstanceUid?: string;
                                seriesInstanceUid?: string;
                                sopInstanceUid?: string;
                                rows?: number;
                                columns?: number;
                                bitsAllocated?: number;
                                transferSyntaxUid?: string;
                            } | null;
                            identity?: {
                                /** @enum {string} */
                                status: "consistent" | "mismatch" | "unknown";
                                fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                                overridden: boolean;
                            };
                        };
                        /** @enum {string} */
                        reason: "unknown_patient" | "unknown_consultation" | "consultation_of_other_patient" | "file_patient_mismatch";
                    };
                    /** @enum {boolean} */
                    scrubbed?: true;
                    links: {
                        /** Format: uri */
                        self: string;
                        /** Format: uri */
                        download: string;
                        /** Format: uri */
                        preview?: string;
                    };
                } | {
                    /** @enum {number} */
                    schemaVersion: 2;
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.identity_mismatch";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    sequence: number;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            /** Format: date-time */
                            capturedAt: string;
                            capturedBy: {
                                sub: string;
                                name: string | null;
                            };
                            deviceId: string | null;
                            bodyPart: string;
                            view: string;
                            /** @enum {string} */
                            priority: "routine" | "urgent";
                            notes: string | null;
                            /** @enum {string} */
                            contentType: "application/dicom" | "image/png" | "image/jpeg";
                            sizeBytes: number;
                            sha256: string;
                            dicomUidConflict?: boolean;
                            /** Format: date-time */
                            uploadedAt: string;
                            /** @description The number of the latest change of this X-ray (created, corrected, link settled) in the change feed (`GET /changes`); larger means later. */
                            changeSeq: number;
                            link: {
                                /** @enum {string} */
                                status: "verified" | "pending" | "invalid" | "unchecked";
                                reason?: string;
                                /** Format: date-time */
                                checkedAt?: string;
                            };
                            dicom: {
                                modality?: string;
                                bodyPartExamined?: string;
                                viewPosition?: string;
                                studyDate?: string;
                                studyInstanceUid?: string;
                                seriesInstanceUid?: string;
                                sopInstanceUid?: string;
                                rows?: number;
                                columns?: number;
                                bitsAllocated?: number;
                                transferSyntaxUid?: string;
                            } | null;
                            identity?: {
                                /** @enum {string} */
                                status: "consistent" | "mismatch" | "unknown";
                                fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                                overridden: boolean;
                            };
                        };
                        fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                        overridden: boolean;
                        override?: {
                            by: {
                                sub: string;
                            };
                            /** Format: date-time */
                            decidedAt: string;
                            fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                        };
                        /** @enum {string} */
                        cause: "upload" | "link_check" | "correction" | "identity_check";
                    };
                    /** @enum {boolean} */
                    scrubbed?: true;
                    links: {
                        /** Format: uri */
                        self: string;
                        /** Format: uri */
                        download: string;
                        /** Format: uri */
                        preview?: string;
                    };
                } | {
                    /**
                     * @default 1
                     * @enum {number}
                     */
                    schemaVersion?: 1;
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.uploaded";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            /** Format: date-time */
                            capturedAt: string;
                            capturedBy: {
                                sub: string;
                                name: string | null;
                            };
                            deviceId: string | null;
                            bodyPart: string;
                            view: string;
                            /** @enum {string} */
                            priority: "routine" | "urgent";
                            /** @enum {string} */
                            contentType: "application/dicom" | "image/png" | "image/jpeg";
                            sizeBytes: number;
                            sha256: string;
                            /** Format: date-time */
                            uploadedAt: string;
                            link: {
                                /** @enum {string} */
                                status: "verified" | "pending" | "invalid" | "unchecked";
                                reason?: string;
                                /** Format: date-time */
                                checkedAt?: string;
                            };
                        };
                    };
                } | {
                    /**
                     * @default 1
                     * @enum {number}
                     */
                    schemaVersion?: 1;
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.updated";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            /** Format: date-time */
                            capturedAt: string;
                            capturedBy: {
                                sub: string;
                                name: string | null;
                            };
                            deviceId: string | null;
                            bodyPart: string;
                            view: string;
                            /** @enum {string} */
                            priority: "routine" | "urgent";
                            /** @enum {string} */
                            contentType: "application/dicom" | "image/png" | "image/jpeg";
                            sizeBytes: number;
                            sha256: string;
                            /** Format: date-time */
                            uploadedAt: string;
                            link: {
                                /** @enum {string} */
                                status: "verified" | "pending" | "invalid" | "unchecked";
                                reason?: string;
                                /** Format: date-time */
                                checkedAt?: string;
                            };
                        };
                        changes: {
                            [key: string]: {
                                before?: unknown;
                                after?: unknown;
                                /** @enum {boolean} */
                                withheld?: true;
                            };
                        };
                        /** @enum {string} */
                        cause: "correction" | "link_check";
                        by: {
                            sub: string;
                        } | null;
                    };
                } | {
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.deleted";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            sha256: string;
                        };
                        by: {
                            sub: string;
                        } | null;
                    };
                    /**
                     * @default 1
                     * @enum {number}
                     */
                    schemaVersion?: 1;
                } | {
                    /**
                     * @default 1
                     * @enum {number}
                     */
                    schemaVersion?: 1;
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.link_invalid";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            /** Format: date-time */
                            capturedAt: string;
                            capturedBy: {
                                sub: string;
                                name: string | null;
                            };
                            deviceId: string | null;
                            bodyPart: string;
                            view: string;
                            /** @enum {string} */
                            priority: "routine" | "urgent";
                            /** @enum {string} */
                            contentType: "application/dicom" | "image/png" | "image/jpeg";
                            sizeBytes: number;
                            sha256: string;
                            /** Format: date-time */
                            uploadedAt: string;
                            link: {
                                /** @enum {string} */
                                status: "verified" | "pending" | "invalid" | "unchecked";
                                reason?: string;
                                /** Format: date-time */
                                checkedAt?: string;
                            };
                        };
                        /** @enum {string} */
                        reason: "unknown_patient" | "unknown_consultation" | "consultation_of_other_patient" | "file_patient_mismatch";
                    };
                };
            }[];
            nextCursor: string | null;
        };
        OutboxRetryResult: {
            retried: number;
            entry: {
                /** Format: uuid */
                id: string;
                /** @enum {string} */
                type: "xray.uploaded" | "xray.updated" | "xray.deleted" | "xray.link_invalid" | "xray.identity_mismatch";
                /** Format: uuid */
                xrayId: string | null;
                /** Format: date-time */
                createdAt: string;
                deliveries: {
                    sink: string;
                    /** @enum {string} */
                    state: "pending" | "delivered" | "dead";
                    attempts: number;
                    failures: number;
                    /** Format: date-time */
                    nextAttemptAt: string | null;
                    /** Format: date-time */
                    lastAttemptAt: string | null;
                    lastError: string | null;
                    /** Format: date-time */
                    deliveredAt: string | null;
                }[];
                event: {
                    /** @enum {number} */
                    schemaVersion: 2;
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.uploaded";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    sequence: number;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            /** Format: date-time */
                            capturedAt: string;
                            capturedBy: {
                                sub: string;
                                name: string | null;
                            };
                            deviceId: string | null;
                            bodyPart: string;
                            view: string;
                            /** @enum {string} */
                            priority: "routine" | "urgent";
                            notes: string | null;
                            /** @enum {string} */
                            contentType: "application/dicom" | "image/png" | "image/jpeg";
                            sizeBytes: number;
                            sha256: string;
                            dicomUidConflict?: boolean;
                            /** Format: date-time */
                            uploadedAt: string;
                            /** @description The number of the latest change of this X-ray (created, corrected, link settled) in the change feed (`GET /changes`); larger means later. */
                            changeSeq: number;
                            link: {
                                /** @enum {string} */
                                status: "verified" | "pending" | "invalid" | "unchecked";
                                reason?: string;
                                /** Format: date-time */
                                checkedAt?: string;
                            };
                            dicom: {
                                modality?: string;
                                bodyPartExamined?: string;
                                viewPosition?: string;
                                studyDate?: string;
                                studyInstanceUid?: string;
                                seriesInstanceUid?: string;
                                sopInstanceUid?: string;
                                rows?: number;
                                columns?: number;
                                bitsAllocated?: number;
                                transferSyntaxUid?: string;
                            } | null;
                            identity?: {
                                /** @enum {string} */
                                status: "consistent" | "mismatch" | "unknown";
                                fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                                overridden: boolean;
                            };
                        };
                    };
                    /** @enum {boolean} */
                    scrubbed?: true;
                    links: {
                        /** Format: uri */
                        self: string;
                        /** Format: uri */
                        download: string;
                        /** Format: uri */
                        preview?: string;
                    };
                } | {
                    /** @enum {number} */
                    schemaVersion: 2;
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.updated";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    sequence: number;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            /** Format: date-time */
                            capturedAt: string;
                            capturedBy: {
                                sub: string;
                                name: string | null;
                            };
                            deviceId: string | null;
                            bodyPart: string;
                            view: string;
                            /** @enum {string} */
                            priority: "routine" | "urgent";
                            notes: string | null;
                            /** @enum {string} */
                            contentType: "application/dicom" | "image/png" | "image/jpeg";
                            sizeBytes: number;
                            sha256: string;
                            dicomUidConflict?: boolean;
                            /** Format: date-time */
                            uploadedAt: string;
                            /** @description The number of the latest change of this X-ray (created, corrected, link settled) in the change feed (`GET /changes`); larger means later. */
                            changeSeq: number;
                            link: {
                                /** @enum {string} */
                                status: "verified" | "pending" | "invalid" | "unchecked";
                                reason?: string;
                                /** Format: date-time */
                                checkedAt?: string;
                            };
                            dicom: {
                                modality?: string;
                                bodyPartExamined?: string;
                                viewPosition?: string;
                                studyDate?: string;
                                studyInstanceUid?: string;
                                seriesInstanceUid?: string;
                                sopInstanceUid?: string;
                                rows?: number;
                                columns?: number;
                                bitsAllocated?: number;
                                transferSyntaxUid?: string;
                            } | null;
                            identity?: {
                                /** @enum {string} */
                                status: "consistent" | "mismatch" | "unknown";
                                fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                                overridden: boolean;
                            };
                        };
                        changes: {
                            [key: string]: {
                                before?: unknown;
                                after?: unknown;
                                /** @enum {boolean} */
                                withheld?: true;
                            };
                        };
                        /** @enum {string} */
                        cause: "correction" | "link_check" | "identity_check" | "dicom_uid_holder";
                        by: {
                            sub: string;
                        } | null;
                    };
                    /** @enum {boolean} */
                    scrubbed?: true;
                    links: {
                        /** Format: uri */
                        self: string;
                        /** Format: uri */
                        download: string;
                        /** Format: uri */
                        preview?: string;
                    };
                } | {
                    /** @enum {number} */
                    schemaVersion: 2;
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.deleted";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    sequence: number;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            sha256: string;
                        };
                        by: {
                            sub: string;
                        } | null;
                    };
                    /** @enum {boolean} */
                    scrubbed?: true;
                } | {
                    /** @enum {number} */
                    schemaVersion: 2;
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.link_invalid";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    sequence: number;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            /** Format: date-time */
                            capturedAt: string;
                            capturedBy: {
                                sub: string;
                                name: string | null;
                            };
                            deviceId: string | null;
                            bodyPart: string;
                            view: string;
                            /** @enum {string} */
                            priority: "routine" | "urgent";
                            notes: string | null;
                            /** @enum {string} */
                            contentType: "application/dicom" | "image/png" | "image/jpeg";
                            sizeBytes: number;
                            sha256: string;
                            dicomUidConflict?: boolean;
                            /** Format: date-time */
                            uploadedAt: string;
                            /** @description The number of the latest change of this X-ray (created, corrected, link settled) in the change feed (`GET /changes`); larger means later. */
                            changeSeq: number;
                            link: {
                                /** @enum {string} */
                                status: "verified" | "pending" | "invalid" | "unchecked";
                                reason?: string;
                                /** Format: date-time */
                                checkedAt?: string;
                            };
                            dicom: {
                                modality?: string;
                                bodyPartExamined?: string;
                                viewPosition?: string;
                                studyDate?: string;
                                studyInstanceUid?: string;
                                seriesInstanceUid?: string;
                                sopInstanceUid?: string;
                                rows?: number;
                                columns?: number;
                                bitsAllocated?: number;
                                transferSyntaxUid?: string;
                            } | null;
                            identity?: {
                                /** @enum {string} */
                                status: "consistent" | "mismatch" | "unknown";
                                fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                                overridden: boolean;
                            };
                        };
                        /** @enum {string} */
                        reason: "unknown_patient" | "unknown_consultation" | "consultation_of_other_patient" | "file_patient_mismatch";
                    };
                    /** @enum {boolean} */
                    scrubbed?: true;
                    links: {
                        /** Format: uri */
                        self: string;
                        /** Format: uri */
                        download: string;
                        /** Format: uri */
                        preview?: string;
                    };
                } | {
                    /** @enum {number} */
                    schemaVersion: 2;
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.identity_mismatch";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    sequence: number;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            /** Format: date-time */
                            capturedAt: string;
                            capturedBy: {
                                sub: string;
                                name: string | null;
                            };
                            deviceId: string | null;
                            bodyPart: string;
                            view: string;
                            /** @enum {string} */
                            priority: "routine" | "urgent";
                            notes: string | null;
                            /** @enum {string} */
                            contentType: "application/dicom" | "image/png" | "image/jpeg";
                            sizeBytes: number;
                            sha256: string;
                            dicomUidConflict?: boolean;
                            /** Format: date-time */
                            uploadedAt: string;
                            /** @description The number of the latest change of this X-ray (created, corrected, link settled) in the change feed (`GET /changes`); larger means later. */
                            changeSeq: number;
                            link: {
                                /** @enum {string} */
                                status: "verified" | "pending" | "invalid" | "unchecked";
                                reason?: string;
                                /** Format: date-time */
                                checkedAt?: string;
                            };
                            dicom: {
                                modality?: string;
                                bodyPartExamined?: string;
                                viewPosition?: string;
                                studyDate?: string;
                                studyInstanceUid?: string;
                                seriesInstanceUid?: string;
                                sopInstanceUid?: string;
                                rows?: number;
                                columns?: number;
                                bitsAllocated?: number;
                                transferSyntaxUid?: string;
                            } | null;
                            identity?: {
                                /** @enum {string} */
                                status: "consistent" | "mismatch" | "unknown";
                                fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                                overridden: boolean;
                            };
                        };
                        fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                        overridden: boolean;
                        override?: {
                            by: {
                                sub: string;
                            };
                            /** Format: date-time */
                            decidedAt: string;
                            fields: ("patientId" | "patientName" | "patientBirthDate" | "patientSex")[];
                        };
                        /** @enum {string} */
                        cause: "upload" | "link_check" | "correction" | "identity_check";
                    };
                    /** @enum {boolean} */
                    scrubbed?: true;
                    links: {
                        /** Format: uri */
                        self: string;
                        /** Format: uri */
                        download: string;
                        /** Format: uri */
                        preview?: string;
                    };
                } | {
                    /**
                     * @default 1
                     * @enum {number}
                     */
                    schemaVersion?: 1;
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.uploaded";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            /** Format: date-time */
                            capturedAt: string;
                            capturedBy: {
                                sub: string;
                                name: string | null;
                            };
                            deviceId: string | null;
                            bodyPart: string;
                            view: string;
                            /** @enum {string} */
                            priority: "routine" | "urgent";
                            /** @enum {string} */
                            contentType: "application/dicom" | "image/png" | "image/jpeg";
                            sizeBytes: number;
                            sha256: string;
                            /** Format: date-time */
                            uploadedAt: string;
                            link: {
                                /** @enum {string} */
                                status: "verified" | "pending" | "invalid" | "unchecked";
                                reason?: string;
                                /** Format: date-time */
                                checkedAt?: string;
                            };
                        };
                    };
                } | {
                    /**
                     * @default 1
                     * @enum {number}
                     */
                    schemaVersion?: 1;
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.updated";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            /** Format: date-time */
                            capturedAt: string;
                            capturedBy: {
                                sub: string;
                                name: string | null;
                            };
                            deviceId: string | null;
                            bodyPart: string;
                            view: string;
                            /** @enum {string} */
                            priority: "routine" | "urgent";
                            /** @enum {string} */
                            contentType: "application/dicom" | "image/png" | "image/jpeg";
                            sizeBytes: number;
                            sha256: string;
                            /** Format: date-time */
                            uploadedAt: string;
                            link: {
                                /** @enum {string} */
                                status: "verified" | "pending" | "invalid" | "unchecked";
                                reason?: string;
                                /** Format: date-time */
                                checkedAt?: string;
                            };
                        };
                        changes: {
                            [key: string]: {
                                before?: unknown;
                                after?: unknown;
                                /** @enum {boolean} */
                                withheld?: true;
                            };
                        };
                        /** @enum {string} */
                        cause: "correction" | "link_check";
                        by: {
                            sub: string;
                        } | null;
                    };
                } | {
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.deleted";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            sha256: string;
                        };
                        by: {
                            sub: string;
                        } | null;
                    };
                    /**
                     * @default 1
                     * @enum {number}
                     */
                    schemaVersion?: 1;
                } | {
                    /**
                     * @default 1
                     * @enum {number}
                     */
                    schemaVersion?: 1;
                    /** Format: uuid */
                    id: string;
                    /** @enum {string} */
                    type: "xray.link_invalid";
                    /** Format: date-time */
                    occurredAt: string;
                    /** @enum {string} */
                    source: "xray-sync-server";
                    /** Format: uuid */
                    xrayId: string;
                    data: {
                        xray: {
                            /** Format: uuid */
                            id: string;
                            patientId: string;
                            consultationId: string | null;
                            /** Format: date-time */
                            capturedAt: string;
                            capturedBy: {
                                sub: string;
                                name: string | null;
                            };
                            deviceId: string | null;
                            bodyPart: string;
                            view: string;
                            /** @enum {string} */
                            priority: "routine" | "urgent";
                            /** @enum {string} */
                            contentType: "application/dicom" | "image/png" | "image/jpeg";
                            sizeBytes: number;
                            sha256: string;
                            /** Format: date-time */
                            uploadedAt: string;
                            link: {
                                /** @enum {string} */
                                status: "verified" | "pending" | "invalid" | "unchecked";
                                reason?: string;
                                /** Format: date-time */
                                checkedAt?: string;
                            };
                        };
                        /** @enum {string} */
                        reason: "unknown_patient" | "unknown_consultation" | "consultation_of_other_patient" | "file_patient_mismatch";
                    };
                };
            };
        };
        EdgeServerConfig: {
            oidc: {
                issuer: string | null;
                audience: string;
            };
            patientServiceUrl: string | null;
            maxUploadBytes: number;
            offlineGraceMs?: number;
            uploadStallMs?: number;
            patientIdIssuer?: string;
        };
        Liveness: {
            /** @enum {string} */
            status: "ok";
        };
        Readiness: {
            /** @enum {string} */
            status: "ok" | "unavailable";
            /** @description `ok` or `failed: <why>` per dependency (`database`, `storage`, and auth and keys in a full server). */
            checks: {
                [key: string]: string;
            };
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: {
        /** @description The request id: the one the client sent (1–128 of `A-Za-z0-9._-`), else a new UUID. Logs and the audit trail carry it. */
        "X-Request-Id": string;
        /** @description Seconds to wait before trying again. */
        "Retry-After": number;
        /** @description Seconds to wait before trying again. */
        "Retry-After.optional": number;
        /** @description The authentication scheme(s) and, on a refusal, the error (RFC 6750, RFC 9449). */
        "WWW-Authenticate": string;
        /** @description The URL of what was created or stored. */
        Location: string;
        /** @description A strong entity tag: `"<sha256 hex>"` of the bytes for a download, `"v<changeSeq>"` for the X-ray resource. */
        ETag: string;
        /** @description Ranges are served in bytes. */
        "Accept-Ranges": "bytes";
        /** @description `bytes <first>-<last>/<size>`, or `bytes *\/<size>` with 416. */
        "Content-Range": string;
        /** @description The length of the body in bytes. */
        "Content-Length": number;
        /** @description `attachment; filename="xray-<id>.<dcm|png|jpg>"`. */
        "Content-Disposition": string;
        /** @description How the answer may be cached. */
        "Cache-Control": string;
        /** @description Any origin may read this answer. */
        "Access-Control-Allow-Origin": "*";
        /** @description The tus protocol version of the answer. */
        "Tus-Resumable": "1.0.0";
        /** @description The tus protocol versions the server speaks. */
        "Tus-Version": string;
        /** @description The tus extensions the server supports, comma-separated. */
        "Tus-Extension": string;
        /** @description The largest upload (ciphertext bytes) the server accepts. */
        "Tus-Max-Size": number;
        /** @description Bytes of the upload the server holds. */
        "Upload-Offset": number;
        /** @description Bytes of the upload the server holds. */
        "Upload-Offset.optional": number;
        /** @description The whole length of the upload (ciphertext bytes). */
        "Upload-Length": number;
        /** @description When an unfinished upload expires (RFC 9110 date). */
        "Upload-Expires": string;
        /** @description The metadata the upload was created with (tus `key base64value` pairs). */
        "Upload-Metadata": string;
        /** @description `299 - "<text>"` (RFC 9111 5.5, as DICOMweb uses it): STOW-RS sends one per instance that failed or was stored already, naming it; QIDO-RS names the query parameters it did not apply. */
        Warning: string;
        /** @description The id of the X-ray the upload is stored as. */
        "X-Xray-Id": string;
        /** @description The SHA-256 (hex) of the stored X-ray plaintext. */
        "X-Xray-Sha256": string;
    };
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    listXrays: {
        parameters: {
            query?: {
                patientId?: string[];
                consultationId?: string;
                from?: string;
                to?: string;
                uploadedFrom?: string;
                uploadedTo?: string;
                changedSince?: number;
                identity?: "consistent" | "mismatch" | "unknown";
                order?: "desc" | "asc";
                limit?: number;
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["XrayList"];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    createXray: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "multipart/form-data": {
                    metadata: components["schemas"]["XrayMetadataInput"];
                    /**
                     * Format: binary
                     * @description The image: DICOM Part 10, PNG or JPEG
                     */
                    file: Blob;
                };
            };
        };
        responses: {
            /** @description Stored already: the same id, user, metadata and bytes (an idempotent repeat) */
            200: {
                headers: {
                    Location: components["headers"]["Location"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Xray"];
                };
            };
            /** @description Stored; Location names the X-ray */
            201: {
                headers: {
                    Location: components["headers"]["Location"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Xray"];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `request_timeout`: The request body stopped arriving; for a tus upload what arrived is kept: resume from `HEAD`. */
            408: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description This id is stored with other content or metadata, or by someone else (`conflict`) */
            409: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After.optional"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `xray_deleted`: An upload (POST /xrays, or tus creation or completion) under the id of an X-ray that was deleted: its id is never stored again. Final: nothing was stored; do not send it again. */
            410: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Larger than MAX_UPLOAD_BYTES (`payload_too_large`) */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not multipart/form-data, or not DICOM, PNG or JPEG, or a DICOM transfer syntax not accepted (`unsupported_media_type`) */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `checksum_mismatch`: The bytes received do not match the declared sha256; nothing was stored. `ciphertext_invalid`: The XRE1 upload does not decrypt with its data key (damaged, truncated or spliced). `content_invalid`: The file is damaged, cut off, or another format rides along with the image. `not_renderable`: A rendered image or preview of an X-ray that has no pixel data, or pixels this server does not render (a transfer syntax with no decoder here, a photometric interpretation other than MONOCHROME1/2, RGB or YBR, more than 16 bits), or more pixels or bytes than RENDER_MAX_PIXELS / RENDER_MAX_INPUT_BYTES allow. */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getXray: {
        parameters: {
            query?: never;
            header?: {
                /** @description ETags the client holds: 304 when one is current */
                "If-None-Match"?: string;
            };
            path: {
                /** @description The X-ray id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The X-ray; ETag is its version */
            200: {
                headers: {
                    ETag: components["headers"]["ETag"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Xray"];
                };
            };
            /** @description Not modified: the ETag the client sent is current */
            304: {
                headers: {
                    ETag: components["headers"]["ETag"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such X-ray, or one the caller may not see (the same answer: probing ids tells nothing) (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    deleteXray: {
        parameters: {
            query?: never;
            header?: {
                /** @description The ETag of the version the deletion is based on */
                "If-Match"?: string;
            };
            path: {
                /** @description The X-ray id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Deleted */
            204: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such X-ray, or one the caller may not see (the same answer: probing ids tells nothing) (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description If-Match names another version: the X-ray changed since (`precondition_failed`) */
            412: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    updateXray: {
        parameters: {
            query?: never;
            header?: {
                /** @description The ETag of the version the correction is based on */
                "If-Match"?: string;
            };
            path: {
                /** @description The X-ray id */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["XrayUpdate"];
                "application/merge-patch+json": {
                    patientId?: string;
                    consultationId?: string | null;
                    bodyPart?: string;
                    /** @enum {string} */
                    view?: "AP" | "PA" | "LL" | "RL" | "LAT" | "OBL" | "LLD" | "RLD" | "OTHER";
                    notes?: string | null;
                };
            };
        };
        responses: {
            /** @description The corrected X-ray; ETag is its new version */
            200: {
                headers: {
                    ETag: components["headers"]["ETag"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Xray"];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such X-ray, or one the caller may not see (the same answer: probing ids tells nothing) (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description If-Match names another version: the X-ray changed since (`precondition_failed`) */
            412: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The body is larger than 64 KiB (`payload_too_large`) */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    downloadXray: {
        parameters: {
            query?: never;
            header?: {
                /** @description One byte range (`bytes=<first>-<last>`, `bytes=<first>-`, `bytes=-<suffix>`); several are answered with the whole file */
                Range?: string;
                /** @description The ETag the client holds: the range is served only if it is current, else the whole file */
                "If-Range"?: string;
                /** @description ETags the client holds: 304 when one is current */
                "If-None-Match"?: string;
            };
            path: {
                /** @description The X-ray id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The whole file */
            200: {
                headers: {
                    ETag: components["headers"]["ETag"];
                    "Accept-Ranges": components["headers"]["Accept-Ranges"];
                    "Content-Length": components["headers"]["Content-Length"];
                    "Content-Disposition": components["headers"]["Content-Disposition"];
                    "Cache-Control": components["headers"]["Cache-Control"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom": Blob;
                    "image/png": Blob;
                    "image/jpeg": Blob;
                };
            };
            /** @description The requested range */
            206: {
                headers: {
                    ETag: components["headers"]["ETag"];
                    "Accept-Ranges": components["headers"]["Accept-Ranges"];
                    "Content-Length": components["headers"]["Content-Length"];
                    "Content-Disposition": components["headers"]["Content-Disposition"];
                    "Cache-Control": components["headers"]["Cache-Control"];
                    "Content-Range": components["headers"]["Content-Range"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom": Blob;
                    "image/png": Blob;
                    "image/jpeg": Blob;
                };
            };
            /** @description Not modified (If-None-Match) */
            304: {
                headers: {
                    ETag: components["headers"]["ETag"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such X-ray, or one the caller may not see (the same answer: probing ids tells nothing) (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The range does not fit the file; Content-Range gives its size (`range_not_satisfiable`) */
            416: {
                headers: {
                    "Content-Range": components["headers"]["Content-Range"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    headXrayDownload: {
        parameters: {
            query?: never;
            header?: {
                /** @description One byte range (`bytes=<first>-<last>`, `bytes=<first>-`, `bytes=-<suffix>`); several are answered with the whole file */
                Range?: string;
                /** @description The ETag the client holds: the range is served only if it is current, else the whole file */
                "If-Range"?: string;
                /** @description ETags the client holds: 304 when one is current */
                "If-None-Match"?: string;
            };
            path: {
                /** @description The X-ray id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The whole file would be sent */
            200: {
                headers: {
                    ETag: components["headers"]["ETag"];
                    "Accept-Ranges": components["headers"]["Accept-Ranges"];
                    "Content-Length": components["headers"]["Content-Length"];
                    "Content-Disposition": components["headers"]["Content-Disposition"];
                    "Cache-Control": components["headers"]["Cache-Control"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The range would be sent */
            206: {
                headers: {
                    ETag: components["headers"]["ETag"];
                    "Accept-Ranges": components["headers"]["Accept-Ranges"];
                    "Content-Length": components["headers"]["Content-Length"];
                    "Content-Disposition": components["headers"]["Content-Disposition"];
                    "Cache-Control": components["headers"]["Cache-Control"];
                    "Content-Range": components["headers"]["Content-Range"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Not modified (If-None-Match) */
            304: {
                headers: {
                    ETag: components["headers"]["ETag"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such X-ray, or one the caller may not see */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The range does not fit the file */
            416: {
                headers: {
                    "Content-Range": components["headers"]["Content-Range"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    previewXray: {
        parameters: {
            query?: {
                /** @description The longest side in pixels, 64 to 2048 (default 512) */
                size?: string;
            };
            header?: {
                /** @description `image/jpeg` (the default) or `image/png`; anything else is 406 */
                Accept?: string;
            };
            path: {
                /** @description The X-ray id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The preview */
            200: {
                headers: {
                    "Cache-Control": components["headers"]["Cache-Control"];
                    "Content-Length": components["headers"]["Content-Length"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "image/jpeg": Blob;
                    "image/png": Blob;
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such X-ray, or one the caller may not see (the same answer: probing ids tells nothing) (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Accept allows neither image/jpeg nor image/png (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The X-ray has no pixels this server renders (`not_renderable`) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listChanges: {
        parameters: {
            query?: {
                after?: number;
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of changes */
            200: {
                headers: {
                    "Cache-Control": components["headers"]["Cache-Control"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ChangeFeed"];
                };
            };
            /** @description `after` or `limit` is not valid (`validation_failed`; `errors[]` names it) */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The role may not list X-rays (`forbidden`) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    createUpload: {
        parameters: {
            query?: never;
            header: {
                /** @description The tus protocol version */
                "Tus-Resumable": "1.0.0";
                /** @description The whole ciphertext length in bytes */
                "Upload-Length"?: number;
                /** @description `1`: the length is sent later (instead of Upload-Length) */
                "Upload-Defer-Length"?: "1";
                /** @description tus metadata: comma-separated `key base64(value)` pairs */
                "Upload-Metadata"?: string;
            };
            path?: never;
            cookie?: never;
        };
        /** @description creation-with-upload: the first bytes of the upload */
        requestBody?: {
            content: {
                "application/offset+octet-stream": Blob;
            };
        };
        responses: {
            /** @description This X-ray is stored already (the repeat rule): Location names its finished upload, which HEAD answers as complete */
            200: {
                headers: {
                    Location: components["headers"]["Location"];
                    "Tus-Resumable": components["headers"]["Tus-Resumable"];
                    "Upload-Offset": components["headers"]["Upload-Offset"];
                    "X-Xray-Id": components["headers"]["X-Xray-Id"];
                    "X-Xray-Sha256": components["headers"]["X-Xray-Sha256"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Xray"];
                };
            };
            /** @description Created; Location names the upload. With all bytes sent at once, the X-ray is stored */
            201: {
                headers: {
                    Location: components["headers"]["Location"];
                    "Tus-Resumable": components["headers"]["Tus-Resumable"];
                    "Upload-Offset": components["headers"]["Upload-Offset.optional"];
                    "Upload-Expires": components["headers"]["Upload-Expires"];
                    "X-Xray-Id": components["headers"]["X-Xray-Id"];
                    "X-Xray-Sha256": components["headers"]["X-Xray-Sha256"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not exactly `/uploads` (another case, a trailing slash): `not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `request_timeout`: The request body stopped arriving; for a tus upload what arrived is kept: resume from `HEAD`. */
            408: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict`: The X-ray id is already stored and this upload is not an exact replay of it (same user, same details, same bytes; the answer is the same whatever differs), or the upload is busy or already complete; `Retry-After` when it is busy. `upload_complete`: A tus termination of an upload that is an X-ray now: nothing was removed. */
            409: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After.optional"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `xray_deleted`: An upload (POST /xrays, or tus creation or completion) under the id of an X-ray that was deleted: its id is never stored again. Final: nothing was stored; do not send it again. */
            410: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description A tus version the server does not speak (`precondition_failed`) */
            412: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `payload_too_large`: The body is larger than allowed (`MAX_UPLOAD_BYTES` for an X-ray). */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unsupported_media_type`: Not DICOM, PNG or JPEG, a DICOM transfer syntax not accepted, or a request body of the wrong Content-Type. */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `checksum_mismatch`: The bytes received do not match the declared sha256; nothing was stored. `ciphertext_invalid`: The XRE1 upload does not decrypt with its data key (damaged, truncated or spliced). `content_invalid`: The file is damaged, cut off, or another format rides along with the image. `not_renderable`: A rendered image or preview of an X-ray that has no pixel data, or pixels this server does not render (a transfer syntax with no decoder here, a photometric interpretation other than MONOCHROME1/2, RGB or YBR, more than 16 bits), or more pixels or bytes than RENDER_MAX_PIXELS / RENDER_MAX_INPUT_BYTES allow. */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getUploadCapabilities: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The capabilities */
            204: {
                headers: {
                    "Tus-Resumable": components["headers"]["Tus-Resumable"];
                    "Tus-Version": components["headers"]["Tus-Version"];
                    "Tus-Extension": components["headers"]["Tus-Extension"];
                    "Tus-Max-Size": components["headers"]["Tus-Max-Size"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not exactly `/uploads` (another case, a trailing slash): `not_found` */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    terminateUpload: {
        parameters: {
            query?: never;
            header: {
                /** @description The tus protocol version */
                "Tus-Resumable": "1.0.0";
            };
            path: {
                /** @description The upload (a random UUID from its Location) */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Terminated: its bytes and row are gone */
            204: {
                headers: {
                    "Tus-Resumable": components["headers"]["Tus-Resumable"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: No such resource or route, or one the caller may not see: the answer is the same, so probing ids tells nothing. */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict`: The X-ray id is already stored and this upload is not an exact replay of it (same user, same details, same bytes; the answer is the same whatever differs), or the upload is busy or already complete; `Retry-After` when it is busy. `upload_complete`: A tus termination of an upload that is an X-ray now: nothing was removed. */
            409: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After.optional"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `precondition_failed`: An `If-Match` that is not the X-ray's current `ETag` (it changed since it was read: read it again, then decide), or a missing or unsupported tus protocol header. */
            412: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getUploadCapabilitiesForUpload: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description The upload (a random UUID from its Location) */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The capabilities */
            204: {
                headers: {
                    "Tus-Resumable": components["headers"]["Tus-Resumable"];
                    "Tus-Version": components["headers"]["Tus-Version"];
                    "Tus-Extension": components["headers"]["Tus-Extension"];
                    "Tus-Max-Size": components["headers"]["Tus-Max-Size"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: No such resource or route, or one the caller may not see: the answer is the same, so probing ids tells nothing. */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getUploadOffset: {
        parameters: {
            query?: never;
            header: {
                /** @description The tus protocol version */
                "Tus-Resumable": "1.0.0";
            };
            path: {
                /** @description The upload (a random UUID from its Location) */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The offset */
            200: {
                headers: {
                    "Tus-Resumable": components["headers"]["Tus-Resumable"];
                    "Upload-Offset": components["headers"]["Upload-Offset"];
                    "Upload-Length": components["headers"]["Upload-Length"];
                    "Upload-Metadata": components["headers"]["Upload-Metadata"];
                    "Upload-Expires": components["headers"]["Upload-Expires"];
                    "Cache-Control": components["headers"]["Cache-Control"];
                    "X-Xray-Id": components["headers"]["X-Xray-Id"];
                    "X-Xray-Sha256": components["headers"]["X-Xray-Sha256"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: No such resource or route, or one the caller may not see: the answer is the same, so probing ids tells nothing. */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict`: The X-ray id is already stored and this upload is not an exact replay of it (same user, same details, same bytes; the answer is the same whatever differs), or the upload is busy or already complete; `Retry-After` when it is busy. `upload_complete`: A tus termination of an upload that is an X-ray now: nothing was removed. */
            409: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After.optional"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `xray_deleted`: An upload (POST /xrays, or tus creation or completion) under the id of an X-ray that was deleted: its id is never stored again. Final: nothing was stored; do not send it again. */
            410: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `precondition_failed`: An `If-Match` that is not the X-ray's current `ETag` (it changed since it was read: read it again, then decide), or a missing or unsupported tus protocol header. */
            412: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `checksum_mismatch`: The bytes received do not match the declared sha256; nothing was stored. `ciphertext_invalid`: The XRE1 upload does not decrypt with its data key (damaged, truncated or spliced). `content_invalid`: The file is damaged, cut off, or another format rides along with the image. `not_renderable`: A rendered image or preview of an X-ray that has no pixel data, or pixels this server does not render (a transfer syntax with no decoder here, a photometric interpretation other than MONOCHROME1/2, RGB or YBR, more than 16 bits), or more pixels or bytes than RENDER_MAX_PIXELS / RENDER_MAX_INPUT_BYTES allow. */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `upload_busy`: A tus HEAD of an upload whose bytes are all in while its X-ray is still being stored after the wait for its lock: ask again after `Retry-After` to learn the X-ray. */
            423: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    appendUploadChunk: {
        parameters: {
            query?: never;
            header: {
                /** @description The tus protocol version */
                "Tus-Resumable": "1.0.0";
                /** @description Where these bytes start: the offset HEAD answered */
                "Upload-Offset"?: number;
            };
            path: {
                /** @description The upload (a random UUID from its Location) */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/offset+octet-stream": Blob;
            };
        };
        responses: {
            /** @description Received; Upload-Offset is the new offset. When complete: The X-ray is stored: X-Xray-Id and X-Xray-Sha256 name it */
            204: {
                headers: {
                    "Tus-Resumable": components["headers"]["Tus-Resumable"];
                    "Upload-Offset": components["headers"]["Upload-Offset"];
                    "Upload-Expires": components["headers"]["Upload-Expires"];
                    "X-Xray-Id": components["headers"]["X-Xray-Id"];
                    "X-Xray-Sha256": components["headers"]["X-Xray-Sha256"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `not_found`: No such resource or route, or one the caller may not see: the answer is the same, so probing ids tells nothing. */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `request_timeout`: The request body stopped arriving; for a tus upload what arrived is kept: resume from `HEAD`. */
            408: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `conflict`: The X-ray id is already stored and this upload is not an exact replay of it (same user, same details, same bytes; the answer is the same whatever differs), or the upload is busy or already complete; `Retry-After` when it is busy. `upload_complete`: A tus termination of an upload that is an X-ray now: nothing was removed. */
            409: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After.optional"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `xray_deleted`: An upload (POST /xrays, or tus creation or completion) under the id of an X-ray that was deleted: its id is never stored again. Final: nothing was stored; do not send it again. */
            410: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `precondition_failed`: An `If-Match` that is not the X-ray's current `ETag` (it changed since it was read: read it again, then decide), or a missing or unsupported tus protocol header. */
            412: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `payload_too_large`: The body is larger than allowed (`MAX_UPLOAD_BYTES` for an X-ray). */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unsupported_media_type`: Not DICOM, PNG or JPEG, a DICOM transfer syntax not accepted, or a request body of the wrong Content-Type. */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `checksum_mismatch`: The bytes received do not match the declared sha256; nothing was stored. `ciphertext_invalid`: The XRE1 upload does not decrypt with its data key (damaged, truncated or spliced). `content_invalid`: The file is damaged, cut off, or another format rides along with the image. `not_renderable`: A rendered image or preview of an X-ray that has no pixel data, or pixels this server does not render (a transfer syntax with no decoder here, a photometric interpretation other than MONOCHROME1/2, RGB or YBR, more than 16 bits), or more pixels or bytes than RENDER_MAX_PIXELS / RENDER_MAX_INPUT_BYTES allow. */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getUploadKeys: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The upload key set */
            200: {
                headers: {
                    "Cache-Control": components["headers"]["Cache-Control"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UploadJwks"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    enrollDevice: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["DeviceEnroll"];
            };
        };
        responses: {
            /** @description This key is enrolled already: that device */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Device"];
                };
            };
            /** @description Enrolled */
            201: {
                headers: {
                    Location: components["headers"]["Location"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Device"];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The role does not enroll devices: paramedics and admins do (`forbidden`) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `payload_too_large`: The body is larger than allowed (`MAX_UPLOAD_BYTES` for an X-ray). */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    reportDeviceWipe: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["DeviceWipeReport"];
            };
        };
        responses: {
            /** @description Recorded */
            204: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The proof key is not an enrolled device (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `payload_too_large`: The body is larger than allowed (`MAX_UPLOAD_BYTES` for an X-ray). */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listDevices: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every device */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DeviceList"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Only administrators manage devices (`forbidden`) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    revokeDevice: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["DeviceRevoke"];
            };
        };
        responses: {
            /** @description Revoked (or already revoked) */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DeviceRevokeResult"];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Only administrators manage devices (`forbidden`) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such device (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `payload_too_large`: The body is larger than allowed (`MAX_UPLOAD_BYTES` for an X-ray). */
            413: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getRoster: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The roster */
            200: {
                headers: {
                    "Cache-Control": components["headers"]["Cache-Control"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Roster"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Only paramedics read the roster (`forbidden`) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No Patient Service is configured, it did not answer, or the database is unavailable (`unavailable`); `Retry-After` says when to retry */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    searchStudies: {
        parameters: {
            query?: {
                /** @description Patient ID: exact, or with `*` and `?` wildcards (also `00100020`) */
                PatientID?: string;
                /** @description Patient name: `*` and `?` wildcards, case-insensitive (also `00100010`) */
                PatientName?: string;
                /** @description `YYYYMMDD`, or a range `a-b`, `-b`, `a-` (also `00080020`) */
                StudyDate?: string;
                /** @description One UID or several separated by `\` (also `0020000D`) */
                StudyInstanceUID?: string;
                /** @description One UID or several separated by `\` (also `0020000E`) */
                SeriesInstanceUID?: string;
                /** @description One UID or several separated by `\` (also `00080018`) */
                SOPInstanceUID?: string;
                /** @description Accession number: exact, or with wildcards (also `00080050`) */
                AccessionNumber?: string;
                /** @description A modality (`CR`, `DX`, …): studies with a series of it (also `00080061`) */
                ModalitiesInStudy?: string;
                /** @description A series modality (also `00080060`) */
                Modality?: string;
                /** @description At most this many results */
                limit?: string;
                /** @description Skip this many results */
                offset?: string;
                /** @description More attributes to return: keywords or tags (comma-separated or repeated), or `all` */
                includefield?: string;
                /** @description Only `false` is performed */
                fuzzymatching?: "true" | "false";
            };
            header?: {
                /** @description `application/dicom+json` (default) or `application/json`; anything else is 406 */
                Accept?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The matches (DICOM JSON); PatientID is the patient the X-ray is linked to (a differing file value in OtherPatientIDsSequence). A Warning names query parameters not applied (fuzzymatching, attributes not matched on), a corrected PatientID, an identity mismatch */
            200: {
                headers: {
                    Warning: components["headers"]["Warning"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom+json": components["schemas"]["DicomJsonDataset"][];
                    "application/json": components["schemas"]["DicomJsonDataset"][];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Accept` asks for a type or transfer syntax not served (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    storeInstances: {
        parameters: {
            query?: never;
            header?: {
                /** @description `application/dicom+json` (default) or `application/json`; anything else is 406 */
                Accept?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "multipart/related": Blob;
            };
        };
        responses: {
            /** @description Every instance is stored (`00081199`, with each RetrieveURL; `00081190` the study) */
            200: {
                headers: {
                    Warning: components["headers"]["Warning"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom+json": components["schemas"]["DicomJsonDataset"];
                    "application/json": components["schemas"]["DicomJsonDataset"];
                };
            };
            /** @description Some instances are stored (`00081199`), others failed (`00081198`, with a Failure Reason each) */
            202: {
                headers: {
                    Warning: components["headers"]["Warning"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom+json": components["schemas"]["DicomJsonDataset"];
                    "application/json": components["schemas"]["DicomJsonDataset"];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Accept` asks for a type or transfer syntax not served (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No instance could be stored: each is in `00081198` with its Failure Reason */
            409: {
                headers: {
                    Warning: components["headers"]["Warning"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom+json": components["schemas"]["DicomJsonDataset"];
                    "application/json": components["schemas"]["DicomJsonDataset"];
                };
            };
            /** @description `unsupported_media_type`: Not DICOM, PNG or JPEG, a DICOM transfer syntax not accepted, or a request body of the wrong Content-Type. */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    searchSeries: {
        parameters: {
            query?: {
                /** @description Patient ID: exact, or with `*` and `?` wildcards (also `00100020`) */
                PatientID?: string;
                /** @description Patient name: `*` and `?` wildcards, case-insensitive (also `00100010`) */
                PatientName?: string;
                /** @description `YYYYMMDD`, or a range `a-b`, `-b`, `a-` (also `00080020`) */
                StudyDate?: string;
                /** @description One UID or several separated by `\` (also `0020000D`) */
                StudyInstanceUID?: string;
                /** @description One UID or several separated by `\` (also `0020000E`) */
                SeriesInstanceUID?: string;
                /** @description One UID or several separated by `\` (also `00080018`) */
                SOPInstanceUID?: string;
                /** @description Accession number: exact, or with wildcards (also `00080050`) */
                AccessionNumber?: string;
                /** @description A modality (`CR`, `DX`, …): studies with a series of it (also `00080061`) */
                ModalitiesInStudy?: string;
                /** @description A series modality (also `00080060`) */
                Modality?: string;
                /** @description At most this many results */
                limit?: string;
                /** @description Skip this many results */
                offset?: string;
                /** @description More attributes to return: keywords or tags (comma-separated or repeated), or `all` */
                includefield?: string;
                /** @description Only `false` is performed */
                fuzzymatching?: "true" | "false";
            };
            header?: {
                /** @description `application/dicom+json` (default) or `application/json`; anything else is 406 */
                Accept?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The matches (DICOM JSON); PatientID is the patient the X-ray is linked to (a differing file value in OtherPatientIDsSequence). A Warning names query parameters not applied (fuzzymatching, attributes not matched on), a corrected PatientID, an identity mismatch */
            200: {
                headers: {
                    Warning: components["headers"]["Warning"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom+json": components["schemas"]["DicomJsonDataset"][];
                    "application/json": components["schemas"]["DicomJsonDataset"][];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Accept` asks for a type or transfer syntax not served (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    searchInstances: {
        parameters: {
            query?: {
                /** @description Patient ID: exact, or with `*` and `?` wildcards (also `00100020`) */
                PatientID?: string;
                /** @description Patient name: `*` and `?` wildcards, case-insensitive (also `00100010`) */
                PatientName?: string;
                /** @description `YYYYMMDD`, or a range `a-b`, `-b`, `a-` (also `00080020`) */
                StudyDate?: string;
                /** @description One UID or several separated by `\` (also `0020000D`) */
                StudyInstanceUID?: string;
                /** @description One UID or several separated by `\` (also `0020000E`) */
                SeriesInstanceUID?: string;
                /** @description One UID or several separated by `\` (also `00080018`) */
                SOPInstanceUID?: string;
                /** @description Accession number: exact, or with wildcards (also `00080050`) */
                AccessionNumber?: string;
                /** @description A modality (`CR`, `DX`, …): studies with a series of it (also `00080061`) */
                ModalitiesInStudy?: string;
                /** @description A series modality (also `00080060`) */
                Modality?: string;
                /** @description At most this many results */
                limit?: string;
                /** @description Skip this many results */
                offset?: string;
                /** @description More attributes to return: keywords or tags (comma-separated or repeated), or `all` */
                includefield?: string;
                /** @description Only `false` is performed */
                fuzzymatching?: "true" | "false";
            };
            header?: {
                /** @description `application/dicom+json` (default) or `application/json`; anything else is 406 */
                Accept?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The matches (DICOM JSON); PatientID is the patient the X-ray is linked to (a differing file value in OtherPatientIDsSequence). A Warning names query parameters not applied (fuzzymatching, attributes not matched on), a corrected PatientID, an identity mismatch */
            200: {
                headers: {
                    Warning: components["headers"]["Warning"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom+json": components["schemas"]["DicomJsonDataset"][];
                    "application/json": components["schemas"]["DicomJsonDataset"][];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Accept` asks for a type or transfer syntax not served (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    searchStudySeries: {
        parameters: {
            query?: {
                /** @description Patient ID: exact, or with `*` and `?` wildcards (also `00100020`) */
                PatientID?: string;
                /** @description Patient name: `*` and `?` wildcards, case-insensitive (also `00100010`) */
                PatientName?: string;
                /** @description `YYYYMMDD`, or a range `a-b`, `-b`, `a-` (also `00080020`) */
                StudyDate?: string;
                /** @description One UID or several separated by `\` (also `0020000D`) */
                StudyInstanceUID?: string;
                /** @description One UID or several separated by `\` (also `0020000E`) */
                SeriesInstanceUID?: string;
                /** @description One UID or several separated by `\` (also `00080018`) */
                SOPInstanceUID?: string;
                /** @description Accession number: exact, or with wildcards (also `00080050`) */
                AccessionNumber?: string;
                /** @description A modality (`CR`, `DX`, …): studies with a series of it (also `00080061`) */
                ModalitiesInStudy?: string;
                /** @description A series modality (also `00080060`) */
                Modality?: string;
                /** @description At most this many results */
                limit?: string;
                /** @description Skip this many results */
                offset?: string;
                /** @description More attributes to return: keywords or tags (comma-separated or repeated), or `all` */
                includefield?: string;
                /** @description Only `false` is performed */
                fuzzymatching?: "true" | "false";
            };
            header?: {
                /** @description `application/dicom+json` (default) or `application/json`; anything else is 406 */
                Accept?: string;
            };
            path: {
                /** @description The Study Instance UID */
                study: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The matches (DICOM JSON); PatientID is the patient the X-ray is linked to (a differing file value in OtherPatientIDsSequence). A Warning names query parameters not applied (fuzzymatching, attributes not matched on), a corrected PatientID, an identity mismatch */
            200: {
                headers: {
                    Warning: components["headers"]["Warning"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom+json": components["schemas"]["DicomJsonDataset"][];
                    "application/json": components["schemas"]["DicomJsonDataset"][];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Accept` asks for a type or transfer syntax not served (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    searchStudyInstances: {
        parameters: {
            query?: {
                /** @description Patient ID: exact, or with `*` and `?` wildcards (also `00100020`) */
                PatientID?: string;
                /** @description Patient name: `*` and `?` wildcards, case-insensitive (also `00100010`) */
                PatientName?: string;
                /** @description `YYYYMMDD`, or a range `a-b`, `-b`, `a-` (also `00080020`) */
                StudyDate?: string;
                /** @description One UID or several separated by `\` (also `0020000D`) */
                StudyInstanceUID?: string;
                /** @description One UID or several separated by `\` (also `0020000E`) */
                SeriesInstanceUID?: string;
                /** @description One UID or several separated by `\` (also `00080018`) */
                SOPInstanceUID?: string;
                /** @description Accession number: exact, or with wildcards (also `00080050`) */
                AccessionNumber?: string;
                /** @description A modality (`CR`, `DX`, …): studies with a series of it (also `00080061`) */
                ModalitiesInStudy?: string;
                /** @description A series modality (also `00080060`) */
                Modality?: string;
                /** @description At most this many results */
                limit?: string;
                /** @description Skip this many results */
                offset?: string;
                /** @description More attributes to return: keywords or tags (comma-separated or repeated), or `all` */
                includefield?: string;
                /** @description Only `false` is performed */
                fuzzymatching?: "true" | "false";
            };
            header?: {
                /** @description `application/dicom+json` (default) or `application/json`; anything else is 406 */
                Accept?: string;
            };
            path: {
                /** @description The Study Instance UID */
                study: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The matches (DICOM JSON); PatientID is the patient the X-ray is linked to (a differing file value in OtherPatientIDsSequence). A Warning names query parameters not applied (fuzzymatching, attributes not matched on), a corrected PatientID, an identity mismatch */
            200: {
                headers: {
                    Warning: components["headers"]["Warning"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom+json": components["schemas"]["DicomJsonDataset"][];
                    "application/json": components["schemas"]["DicomJsonDataset"][];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Accept` asks for a type or transfer syntax not served (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    searchSeriesInstances: {
        parameters: {
            query?: {
                /** @description Patient ID: exact, or with `*` and `?` wildcards (also `00100020`) */
                PatientID?: string;
                /** @description Patient name: `*` and `?` wildcards, case-insensitive (also `00100010`) */
                PatientName?: string;
                /** @description `YYYYMMDD`, or a range `a-b`, `-b`, `a-` (also `00080020`) */
                StudyDate?: string;
                /** @description One UID or several separated by `\` (also `0020000D`) */
                StudyInstanceUID?: string;
                /** @description One UID or several separated by `\` (also `0020000E`) */
                SeriesInstanceUID?: string;
                /** @description One UID or several separated by `\` (also `00080018`) */
                SOPInstanceUID?: string;
                /** @description Accession number: exact, or with wildcards (also `00080050`) */
                AccessionNumber?: string;
                /** @description A modality (`CR`, `DX`, …): studies with a series of it (also `00080061`) */
                ModalitiesInStudy?: string;
                /** @description A series modality (also `00080060`) */
                Modality?: string;
                /** @description At most this many results */
                limit?: string;
                /** @description Skip this many results */
                offset?: string;
                /** @description More attributes to return: keywords or tags (comma-separated or repeated), or `all` */
                includefield?: string;
                /** @description Only `false` is performed */
                fuzzymatching?: "true" | "false";
            };
            header?: {
                /** @description `application/dicom+json` (default) or `application/json`; anything else is 406 */
                Accept?: string;
            };
            path: {
                /** @description The Study Instance UID */
                study: string;
                /** @description The Series Instance UID */
                series: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The matches (DICOM JSON); PatientID is the patient the X-ray is linked to (a differing file value in OtherPatientIDsSequence). A Warning names query parameters not applied (fuzzymatching, attributes not matched on), a corrected PatientID, an identity mismatch */
            200: {
                headers: {
                    Warning: components["headers"]["Warning"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom+json": components["schemas"]["DicomJsonDataset"][];
                    "application/json": components["schemas"]["DicomJsonDataset"][];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Accept` asks for a type or transfer syntax not served (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retrieveStudy: {
        parameters: {
            query?: never;
            header?: {
                /** @description `multipart/related; type="application/dicom"` with `transfer-syntax=*` or the stored syntax (default); another transfer syntax is 406 */
                Accept?: string;
            };
            path: {
                /** @description The Study Instance UID */
                study: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The instances as stored, one part each */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "multipart/related": Blob;
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such study, series or instance, or none the caller may see (the same answer) (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Accept` asks for a type or transfer syntax not served (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    storeStudyInstances: {
        parameters: {
            query?: never;
            header?: {
                /** @description `application/dicom+json` (default) or `application/json`; anything else is 406 */
                Accept?: string;
            };
            path: {
                /** @description The Study Instance UID */
                study: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "multipart/related": Blob;
            };
        };
        responses: {
            /** @description Every instance is stored (`00081199`, with each RetrieveURL; `00081190` the study) */
            200: {
                headers: {
                    Warning: components["headers"]["Warning"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom+json": components["schemas"]["DicomJsonDataset"];
                    "application/json": components["schemas"]["DicomJsonDataset"];
                };
            };
            /** @description Some instances are stored (`00081199`), others failed (`00081198`, with a Failure Reason each) */
            202: {
                headers: {
                    Warning: components["headers"]["Warning"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom+json": components["schemas"]["DicomJsonDataset"];
                    "application/json": components["schemas"]["DicomJsonDataset"];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Accept` asks for a type or transfer syntax not served (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No instance could be stored: each is in `00081198` with its Failure Reason */
            409: {
                headers: {
                    Warning: components["headers"]["Warning"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom+json": components["schemas"]["DicomJsonDataset"];
                    "application/json": components["schemas"]["DicomJsonDataset"];
                };
            };
            /** @description `unsupported_media_type`: Not DICOM, PNG or JPEG, a DICOM transfer syntax not accepted, or a request body of the wrong Content-Type. */
            415: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retrieveSeries: {
        parameters: {
            query?: never;
            header?: {
                /** @description `multipart/related; type="application/dicom"` with `transfer-syntax=*` or the stored syntax (default); another transfer syntax is 406 */
                Accept?: string;
            };
            path: {
                /** @description The Study Instance UID */
                study: string;
                /** @description The Series Instance UID */
                series: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The instances as stored, one part each */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "multipart/related": Blob;
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such study, series or instance, or none the caller may see (the same answer) (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Accept` asks for a type or transfer syntax not served (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retrieveInstance: {
        parameters: {
            query?: never;
            header?: {
                /** @description `multipart/related; type="application/dicom"` with `transfer-syntax=*` or the stored syntax (default); another transfer syntax is 406 */
                Accept?: string;
            };
            path: {
                /** @description The Study Instance UID */
                study: string;
                /** @description The Series Instance UID */
                series: string;
                /** @description The SOP Instance UID */
                instance: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The instances as stored, one part each */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "multipart/related": Blob;
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such study, series or instance, or none the caller may see (the same answer) (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Accept` asks for a type or transfer syntax not served (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retrieveInstanceFrames: {
        parameters: {
            query?: never;
            header?: {
                /** @description `multipart/related; type="application/octet-stream"` (the default; also `*\/*`), or with the compressed syntax's own type, with `transfer-syntax=*` or the stored syntax; another transfer syntax is 406 */
                Accept?: string;
            };
            path: {
                /** @description The Study Instance UID */
                study: string;
                /** @description The Series Instance UID */
                series: string;
                /** @description The SOP Instance UID */
                instance: string;
                /** @description Frame numbers from 1, comma-separated (`1`, `1,3`), each at most once, at most 1000, answered in this order */
                frames: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The frames, one part each, in the order asked */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "multipart/related": Blob;
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such study, series or instance, or none the caller may see (the same answer); a frame past NumberOfFrames (named); an instance with no pixel data (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Accept` asks for a type or transfer syntax not served, or the pixel data cannot be served frame by frame without transcoding (big endian, video, frames not locatable without decoding) (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retrieveStudyMetadata: {
        parameters: {
            query?: never;
            header?: {
                /** @description `application/dicom+json` (default) or `application/json`; anything else is 406 */
                Accept?: string;
            };
            path: {
                /** @description The Study Instance UID */
                study: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The instances’ headers, PatientID the linked patient’s (a differing file value in OtherPatientIDsSequence); a Warning names any whose header ends early (the header is read whole at ingest; an instance indexed before that from its first 64 KiB may lack attributes until `xray-admin dicom-index` reads it again), a corrected PatientID, an identity mismatch */
            200: {
                headers: {
                    Warning: components["headers"]["Warning"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom+json": components["schemas"]["DicomJsonDataset"][];
                    "application/json": components["schemas"]["DicomJsonDataset"][];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such study, series or instance, or none the caller may see (the same answer) (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Accept` asks for a type or transfer syntax not served (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retrieveSeriesMetadata: {
        parameters: {
            query?: never;
            header?: {
                /** @description `application/dicom+json` (default) or `application/json`; anything else is 406 */
                Accept?: string;
            };
            path: {
                /** @description The Study Instance UID */
                study: string;
                /** @description The Series Instance UID */
                series: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The instances’ headers, PatientID the linked patient’s (a differing file value in OtherPatientIDsSequence); a Warning names any whose header ends early (the header is read whole at ingest; an instance indexed before that from its first 64 KiB may lack attributes until `xray-admin dicom-index` reads it again), a corrected PatientID, an identity mismatch */
            200: {
                headers: {
                    Warning: components["headers"]["Warning"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom+json": components["schemas"]["DicomJsonDataset"][];
                    "application/json": components["schemas"]["DicomJsonDataset"][];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such study, series or instance, or none the caller may see (the same answer) (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Accept` asks for a type or transfer syntax not served (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retrieveInstanceMetadata: {
        parameters: {
            query?: never;
            header?: {
                /** @description `application/dicom+json` (default) or `application/json`; anything else is 406 */
                Accept?: string;
            };
            path: {
                /** @description The Study Instance UID */
                study: string;
                /** @description The Series Instance UID */
                series: string;
                /** @description The SOP Instance UID */
                instance: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The instances’ headers, PatientID the linked patient’s (a differing file value in OtherPatientIDsSequence); a Warning names any whose header ends early (the header is read whole at ingest; an instance indexed before that from its first 64 KiB may lack attributes until `xray-admin dicom-index` reads it again), a corrected PatientID, an identity mismatch */
            200: {
                headers: {
                    Warning: components["headers"]["Warning"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/dicom+json": components["schemas"]["DicomJsonDataset"][];
                    "application/json": components["schemas"]["DicomJsonDataset"][];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such study, series or instance, or none the caller may see (the same answer) (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The `Accept` asks for a type or transfer syntax not served (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retrieveInstanceRendered: {
        parameters: {
            query?: {
                /** @description `center,width,function` (function `linear`, `linear-exact` or `sigmoid`, PS3.18 8.3.5.1.4): the VOI window, instead of the file’s own */
                window?: string;
                /** @description `vw,vh` or `vw,vh,sx,sy,sw,sh` (PS3.18 8.3.5.1.3): the size the image is scaled to fit (aspect ratio kept) and the source region (a negative sw or sh flips it) */
                viewport?: string;
                /** @description JPEG quality, 1 to 100 (default 90) */
                quality?: string;
            };
            header?: {
                /** @description `image/jpeg` (the default) or `image/png`; anything else is 406 */
                Accept?: string;
            };
            path: {
                /** @description The Study Instance UID */
                study: string;
                /** @description The Series Instance UID */
                series: string;
                /** @description The SOP Instance UID */
                instance: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The rendered image */
            200: {
                headers: {
                    "Cache-Control": components["headers"]["Cache-Control"];
                    "Content-Length": components["headers"]["Content-Length"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "image/jpeg": Blob;
                    "image/png": Blob;
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such study, series or instance, or none the caller may see (the same answer) (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Accept allows neither image/jpeg nor image/png (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The instance has no pixels this server renders (`not_renderable`) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retrieveInstanceThumbnail: {
        parameters: {
            query?: {
                /** @description `center,width,function` (function `linear`, `linear-exact` or `sigmoid`, PS3.18 8.3.5.1.4): the VOI window, instead of the file’s own */
                window?: string;
                /** @description `vw,vh` or `vw,vh,sx,sy,sw,sh` (PS3.18 8.3.5.1.3): the size the image is scaled to fit (aspect ratio kept) and the source region (a negative sw or sh flips it) */
                viewport?: string;
                /** @description JPEG quality, 1 to 100 (default 90) */
                quality?: string;
            };
            header?: {
                /** @description `image/jpeg` (the default) or `image/png`; anything else is 406 */
                Accept?: string;
            };
            path: {
                /** @description The Study Instance UID */
                study: string;
                /** @description The Series Instance UID */
                series: string;
                /** @description The SOP Instance UID */
                instance: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The thumbnail */
            200: {
                headers: {
                    "Cache-Control": components["headers"]["Cache-Control"];
                    "Content-Length": components["headers"]["Content-Length"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "image/jpeg": Blob;
                    "image/png": Blob;
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such study, series or instance, or none the caller may see (the same answer) (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Accept allows neither image/jpeg nor image/png (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The instance has no pixels this server renders (`not_renderable`) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retrieveSeriesThumbnail: {
        parameters: {
            query?: {
                /** @description `center,width,function` (function `linear`, `linear-exact` or `sigmoid`, PS3.18 8.3.5.1.4): the VOI window, instead of the file’s own */
                window?: string;
                /** @description `vw,vh` or `vw,vh,sx,sy,sw,sh` (PS3.18 8.3.5.1.3): the size the image is scaled to fit (aspect ratio kept) and the source region (a negative sw or sh flips it) */
                viewport?: string;
                /** @description JPEG quality, 1 to 100 (default 90) */
                quality?: string;
            };
            header?: {
                /** @description `image/jpeg` (the default) or `image/png`; anything else is 406 */
                Accept?: string;
            };
            path: {
                /** @description The Study Instance UID */
                study: string;
                /** @description The Series Instance UID */
                series: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The thumbnail */
            200: {
                headers: {
                    "Cache-Control": components["headers"]["Cache-Control"];
                    "Content-Length": components["headers"]["Content-Length"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "image/jpeg": Blob;
                    "image/png": Blob;
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such study, series or instance, or none the caller may see (the same answer) (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Accept allows neither image/jpeg nor image/png (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The instance has no pixels this server renders (`not_renderable`) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retrieveStudyThumbnail: {
        parameters: {
            query?: {
                /** @description `center,width,function` (function `linear`, `linear-exact` or `sigmoid`, PS3.18 8.3.5.1.4): the VOI window, instead of the file’s own */
                window?: string;
                /** @description `vw,vh` or `vw,vh,sx,sy,sw,sh` (PS3.18 8.3.5.1.3): the size the image is scaled to fit (aspect ratio kept) and the source region (a negative sw or sh flips it) */
                viewport?: string;
                /** @description JPEG quality, 1 to 100 (default 90) */
                quality?: string;
            };
            header?: {
                /** @description `image/jpeg` (the default) or `image/png`; anything else is 406 */
                Accept?: string;
            };
            path: {
                /** @description The Study Instance UID */
                study: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The thumbnail */
            200: {
                headers: {
                    "Cache-Control": components["headers"]["Cache-Control"];
                    "Content-Length": components["headers"]["Content-Length"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "image/jpeg": Blob;
                    "image/png": Blob;
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `forbidden`: The caller's role (or relation to the X-ray) does not allow this action. */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such study, series or instance, or none the caller may see (the same answer) (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Accept allows neither image/jpeg nor image/png (`not_acceptable`) */
            406: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The instance has no pixels this server renders (`not_renderable`) */
            422: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listAuditEvents: {
        parameters: {
            query?: {
                xrayId?: string;
                patientId?: string;
                actor?: string;
                action?: "xray.create" | "xray.read" | "xray.list" | "xray.changes" | "xray.download" | "xray.preview" | "xray.update" | "xray.delete" | "access.denied" | "audit.list" | "xray.rekey" | "outbox.list" | "outbox.retry" | "upload.create" | "upload.terminate" | "upload.continue" | "roster.read" | "device.enroll" | "device.list" | "device.revoke" | "device.wipe" | "xray.recover" | "audit.restore";
                outcome?: "success" | "denied" | "failed";
                from?: string;
                to?: string;
                order?: "asc" | "desc";
                limit?: number;
                cursor?: string;
                format?: "json" | "fhir";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of audit events */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AuditEventList"];
                    "application/fhir+json": components["schemas"]["FhirAuditEventBundle"];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Only administrators read the audit log (`forbidden`) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listOutbox: {
        parameters: {
            query?: {
                state?: "pending" | "dead";
                limit?: number;
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of outbox entries, oldest first */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OutboxList"];
                };
            };
            /** @description `validation_failed`: A field, query parameter or part is invalid; `errors[]` names each one. `bad_request`: The request cannot be read: malformed JSON or multipart, a path id that is not a UUID. */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Only administrators manage the outbox (`forbidden`) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retryOutboxEvent: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Queued for delivery */
            202: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["OutboxRetryResult"];
                };
            };
            /** @description The path does not name an event id (`bad_request`) */
            400: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `unauthenticated`: No bearer token, or one that does not verify (malformed, signature, issuer, audience, not yet valid); an expired one is `token_expired`. `token_expired`: The bearer token was genuine but is past its `exp` (beyond the clock tolerance): refresh it and send the request again. Every other token problem is `unauthenticated`. `dpop_required`: A token bound to a device key (or a device's token) sent without its DPoP proof (RFC 9449). `dpop_invalid`: The DPoP proof is malformed, for another request, too old or too new, or for another token. `dpop_replayed`: The DPoP proof was already used (same `jti`): a copied request. `dpop_key_mismatch`: The DPoP proof is signed by another key than the one the token is bound to. `device_revoked`: An administrator revoked the device: it must wipe itself and report it. */
            401: {
                headers: {
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Only administrators manage the outbox (`forbidden`) */
            403: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such event (`not_found`) */
            404: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `too_many_requests`: Too many failed authentications from this address, or too many uploads at once; `Retry-After` says when to retry. `too_many_downloads`: Answers streaming stored X-ray bytes (download, WADO-RS retrieve, Retrieve Frames): each user may have DOWNLOAD_MAX_STREAMS_PER_USER at once per instance and sixteen times as many waiting their turn; this one found the line full, or waited DOWNLOAD_STREAM_WAIT_MS in it. `Retry-After` says when to retry. */
            429: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description `storage_failed`: Object storage failed; nothing was done. `Retry-After` says when to retry. `render_busy`: Rendering decodes a whole X-ray in memory, so only RENDER_CONCURRENCY renders run at once and RENDER_QUEUE_LIMIT wait; this one found the queue full. `Retry-After` says when to retry (a cached render is never refused). `unavailable`: The database, object storage or the Patient Service is unavailable; nothing was done. `Retry-After` says when to retry. */
            503: {
                headers: {
                    "Retry-After": components["headers"]["Retry-After"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getEdgeConfig: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The deployment, as the edge app sees it */
            200: {
                headers: {
                    "Access-Control-Allow-Origin": components["headers"]["Access-Control-Allow-Origin"];
                    "Cache-Control": components["headers"]["Cache-Control"];
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EdgeServerConfig"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getLiveness: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The process is alive */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Liveness"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getReadiness: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Ready to serve X-rays */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Readiness"];
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not ready: `checks` names what failed */
            503: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Readiness"];
                };
            };
        };
    };
    getOpenApiDocument: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The OpenAPI document */
            200: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        [key: string]: unknown;
                    };
                };
            };
            /** @description `internal`: A server fault; the request was not completed. `integrity_failed`: Stored data is not what its row says (a data key bound to another X-ray, an object of the wrong length or hash). */
            500: {
                headers: {
                    "X-Request-Id": components["headers"]["X-Request-Id"];
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    onXrayUploadedEvent: {
        parameters: {
            query?: never;
            header: {
                /** @description The event id (as in the body): de-duplicate on it */
                "x-xray-event-id": string;
                /** @description The event type (as in the body) */
                "x-xray-event-type": "xray.uploaded" | "xray.updated" | "xray.deleted" | "xray.link_invalid" | "xray.identity_mismatch";
                /** @description Unix seconds when signed; refuse values far from your clock (5 minutes) */
                "x-xray-timestamp": string;
                /** @description `v1=<hex HMAC-SHA256(WEBHOOK_SECRET, "<timestamp>.<raw body>")>`; several comma-separated values during a secret rotation: any one matching is enough */
                "x-xray-signature": string;
                /** @description Which delivery attempt of this event this is (1 the first) */
                "x-xray-delivery-attempt": string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "schemaVersion": 2,
                 *       "id": "0b8e5d1f-2c3a-4e6b-8f7d-9a1c2b3d4e5f",
                 *       "type": "xray.uploaded",
                 *       "occurredAt": "2026-11-27T08:31:02.121Z",
                 *       "source": "xray-sync-server",
                 *       "xrayId": "3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13",
                 *       "sequence": 1041,
                 *       "links": {
                 *         "self": "https://xray.hospital.example/api/xrays/3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13",
                 *         "download": "https://xray.hospital.example/api/xrays/3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13/download",
                 *         "preview": "https://xray.hospital.example/api/xrays/3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13/preview"
                 *       },
                 *       "data": {
                 *         "xray": {
                 *           "id": "3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13",
                 *           "patientId": "P-1001",
                 *           "consultationId": "C-2001",
                 *           "capturedAt": "2026-11-27T08:15:00.000Z",
                 *           "capturedBy": {
                 *             "sub": "paramedic-7",
                 *             "name": "Sam Ortiz"
                 *           },
                 *           "deviceId": "AMB-12-tablet",
                 *           "bodyPart": "CHEST",
                 *           "view": "PA",
                 *           "priority": "urgent",
                 *           "notes": "Fall from ladder, pain on the right side.",
                 *           "contentType": "application/dicom",
                 *           "sizeBytes": 18874786,
                 *           "sha256": "9b2f1c4a7e0d3b6c5a8f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b",
                 *           "dicom": {
                 *             "modality": "DX",
                 *             "bodyPartExamined": "CHEST",
                 *             "viewPosition": "PA",
                 *             "studyDate": "20261127",
                 *             "studyInstanceUid": "2.25.118906245931775519474521546716322016401",
                 *             "seriesInstanceUid": "2.25.205137411372928395398312475522133453092",
                 *             "sopInstanceUid": "2.25.309912270823540716231716451307811839575",
                 *             "rows": 3000,
                 *             "columns": 3000,
                 *             "bitsAllocated": 16,
                 *             "transferSyntaxUid": "1.2.840.10008.1.2.1"
                 *           },
                 *           "link": {
                 *             "status": "verified",
                 *             "checkedAt": "2026-11-27T08:31:02.114Z"
                 *           },
                 *           "identity": {
                 *             "status": "consistent",
                 *             "fields": [],
                 *             "overridden": false
                 *           },
                 *           "dicomUidConflict": false,
                 *           "uploadedAt": "2026-11-27T08:31:02.118Z",
                 *           "changeSeq": 1041
                 *         }
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["XrayUploadedEvent"];
            };
        };
        responses: {
            /** @description Delivered */
            "2XX": {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Refused: retried later with backoff until the event is parked as dead. 429 is an outage instead: retried (after `Retry-After`) for as long as it lasts, never counted towards dead */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description 502 and 503 are an outage: retried for as long as it lasts, never counted towards dead. Any other status (and no answer within the timeout) counts as a refusal */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onXrayUpdatedEvent: {
        parameters: {
            query?: never;
            header: {
                /** @description The event id (as in the body): de-duplicate on it */
                "x-xray-event-id": string;
                /** @description The event type (as in the body) */
                "x-xray-event-type": "xray.uploaded" | "xray.updated" | "xray.deleted" | "xray.link_invalid" | "xray.identity_mismatch";
                /** @description Unix seconds when signed; refuse values far from your clock (5 minutes) */
                "x-xray-timestamp": string;
                /** @description `v1=<hex HMAC-SHA256(WEBHOOK_SECRET, "<timestamp>.<raw body>")>`; several comma-separated values during a secret rotation: any one matching is enough */
                "x-xray-signature": string;
                /** @description Which delivery attempt of this event this is (1 the first) */
                "x-xray-delivery-attempt": string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "schemaVersion": 2,
                 *       "id": "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d",
                 *       "type": "xray.updated",
                 *       "occurredAt": "2026-11-27T09:02:40.512Z",
                 *       "source": "xray-sync-server",
                 *       "xrayId": "3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13",
                 *       "sequence": 1187,
                 *       "links": {
                 *         "self": "https://xray.hospital.example/api/xrays/3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13",
                 *         "download": "https://xray.hospital.example/api/xrays/3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13/download",
                 *         "preview": "https://xray.hospital.example/api/xrays/3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13/preview"
                 *       },
                 *       "data": {
                 *         "xray": {
                 *           "id": "3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13",
                 *           "patientId": "P-1009",
                 *           "consultationId": null,
                 *           "capturedAt": "2026-11-27T08:15:00.000Z",
                 *           "capturedBy": {
                 *             "sub": "paramedic-7",
                 *             "name": "Sam Ortiz"
                 *           },
                 *           "deviceId": "AMB-12-tablet",
                 *           "bodyPart": "CHEST",
                 *           "view": "PA",
                 *           "priority": "urgent",
                 *           "notes": "Fall from ladder, pain on the right side. Patient picked again: the first pick was wrong.",
                 *           "contentType": "application/dicom",
                 *           "sizeBytes": 18874786,
                 *           "sha256": "9b2f1c4a7e0d3b6c5a8f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b",
                 *           "dicom": {
                 *             "modality": "DX",
                 *             "bodyPartExamined": "CHEST",
                 *             "viewPosition": "PA",
                 *             "studyDate": "20261127",
                 *             "studyInstanceUid": "2.25.118906245931775519474521546716322016401",
                 *             "seriesInstanceUid": "2.25.205137411372928395398312475522133453092",
                 *             "sopInstanceUid": "2.25.309912270823540716231716451307811839575",
                 *             "rows": 3000,
                 *             "columns": 3000,
                 *             "bitsAllocated": 16,
                 *             "transferSyntaxUid": "1.2.840.10008.1.2.1"
                 *           },
                 *           "link": {
                 *             "status": "invalid",
                 *             "reason": "unknown_patient",
                 *             "checkedAt": "2026-11-27T09:02:40.507Z"
                 *           },
                 *           "identity": {
                 *             "status": "mismatch",
                 *             "fields": [
                 *               "patientId"
                 *             ],
                 *             "overridden": false
                 *           },
                 *           "dicomUidConflict": false,
                 *           "uploadedAt": "2026-11-27T08:31:02.118Z",
                 *           "changeSeq": 1187
                 *         },
                 *         "changes": {
                 *           "patientId": {
                 *             "before": "P-1001",
                 *             "after": "P-1009"
                 *           },
                 *           "consultationId": {
                 *             "before": "C-2001",
                 *             "after": null
                 *           },
                 *           "notes": {
                 *             "before": "Fall from ladder, pain on the right side.",
                 *             "after": "Fall from ladder, pain on the right side. Patient picked again: the first pick was wrong."
                 *           },
                 *           "link": {
                 *             "before": {
                 *               "status": "verified"
                 *             },
                 *             "after": {
                 *               "status": "invalid",
                 *               "reason": "unknown_patient"
                 *             }
                 *           }
                 *         },
                 *         "cause": "correction",
                 *         "by": {
                 *           "sub": "paramedic-7"
                 *         }
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["XrayUpdatedEvent"];
            };
        };
        responses: {
            /** @description Delivered */
            "2XX": {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Refused: retried later with backoff until the event is parked as dead. 429 is an outage instead: retried (after `Retry-After`) for as long as it lasts, never counted towards dead */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description 502 and 503 are an outage: retried for as long as it lasts, never counted towards dead. Any other status (and no answer within the timeout) counts as a refusal */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onXrayDeletedEvent: {
        parameters: {
            query?: never;
            header: {
                /** @description The event id (as in the body): de-duplicate on it */
                "x-xray-event-id": string;
                /** @description The event type (as in the body) */
                "x-xray-event-type": "xray.uploaded" | "xray.updated" | "xray.deleted" | "xray.link_invalid" | "xray.identity_mismatch";
                /** @description Unix seconds when signed; refuse values far from your clock (5 minutes) */
                "x-xray-timestamp": string;
                /** @description `v1=<hex HMAC-SHA256(WEBHOOK_SECRET, "<timestamp>.<raw body>")>`; several comma-separated values during a secret rotation: any one matching is enough */
                "x-xray-signature": string;
                /** @description Which delivery attempt of this event this is (1 the first) */
                "x-xray-delivery-attempt": string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "schemaVersion": 2,
                 *       "id": "f0e1d2c3-b4a5-4968-8776-655443322110",
                 *       "type": "xray.deleted",
                 *       "occurredAt": "2026-11-27T10:45:13.900Z",
                 *       "source": "xray-sync-server",
                 *       "xrayId": "3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13",
                 *       "sequence": 1203,
                 *       "data": {
                 *         "xray": {
                 *           "id": "3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13",
                 *           "patientId": "P-1009",
                 *           "consultationId": null,
                 *           "sha256": "9b2f1c4a7e0d3b6c5a8f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b"
                 *         },
                 *         "by": {
                 *           "sub": "admin-2"
                 *         }
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["XrayDeletedEvent"];
            };
        };
        responses: {
            /** @description Delivered */
            "2XX": {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Refused: retried later with backoff until the event is parked as dead. 429 is an outage instead: retried (after `Retry-After`) for as long as it lasts, never counted towards dead */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description 502 and 503 are an outage: retried for as long as it lasts, never counted towards dead. Any other status (and no answer within the timeout) counts as a refusal */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onXrayLinkInvalidEvent: {
        parameters: {
            query?: never;
            header: {
                /** @description The event id (as in the body): de-duplicate on it */
                "x-xray-event-id": string;
                /** @description The event type (as in the body) */
                "x-xray-event-type": "xray.uploaded" | "xray.updated" | "xray.deleted" | "xray.link_invalid" | "xray.identity_mismatch";
                /** @description Unix seconds when signed; refuse values far from your clock (5 minutes) */
                "x-xray-timestamp": string;
                /** @description `v1=<hex HMAC-SHA256(WEBHOOK_SECRET, "<timestamp>.<raw body>")>`; several comma-separated values during a secret rotation: any one matching is enough */
                "x-xray-signature": string;
                /** @description Which delivery attempt of this event this is (1 the first) */
                "x-xray-delivery-attempt": string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "schemaVersion": 2,
                 *       "id": "d1e2f3a4-b5c6-4d7e-8f9a-0b1c2d3e4f5a",
                 *       "type": "xray.link_invalid",
                 *       "occurredAt": "2026-11-27T09:02:40.512Z",
                 *       "source": "xray-sync-server",
                 *       "xrayId": "3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13",
                 *       "sequence": 1187,
                 *       "links": {
                 *         "self": "https://xray.hospital.example/api/xrays/3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13",
                 *         "download": "https://xray.hospital.example/api/xrays/3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13/download",
                 *         "preview": "https://xray.hospital.example/api/xrays/3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13/preview"
                 *       },
                 *       "data": {
                 *         "xray": {
                 *           "id": "3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13",
                 *           "patientId": "P-1009",
                 *           "consultationId": null,
                 *           "capturedAt": "2026-11-27T08:15:00.000Z",
                 *           "capturedBy": {
                 *             "sub": "paramedic-7",
                 *             "name": "Sam Ortiz"
                 *           },
                 *           "deviceId": "AMB-12-tablet",
                 *           "bodyPart": "CHEST",
                 *           "view": "PA",
                 *           "priority": "urgent",
                 *           "notes": "Fall from ladder, pain on the right side. Patient picked again: the first pick was wrong.",
                 *           "contentType": "application/dicom",
                 *           "sizeBytes": 18874786,
                 *           "sha256": "9b2f1c4a7e0d3b6c5a8f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b",
                 *           "dicom": {
                 *             "modality": "DX",
                 *             "bodyPartExamined": "CHEST",
                 *             "viewPosition": "PA",
                 *             "studyDate": "20261127",
                 *             "studyInstanceUid": "2.25.118906245931775519474521546716322016401",
                 *             "seriesInstanceUid": "2.25.205137411372928395398312475522133453092",
                 *             "sopInstanceUid": "2.25.309912270823540716231716451307811839575",
                 *             "rows": 3000,
                 *             "columns": 3000,
                 *             "bitsAllocated": 16,
                 *             "transferSyntaxUid": "1.2.840.10008.1.2.1"
                 *           },
                 *           "link": {
                 *             "status": "invalid",
                 *             "reason": "unknown_patient",
                 *             "checkedAt": "2026-11-27T09:02:40.507Z"
                 *           },
                 *           "identity": {
                 *             "status": "mismatch",
                 *             "fields": [
                 *               "patientId"
                 *             ],
                 *             "overridden": false
                 *           },
                 *           "dicomUidConflict": false,
                 *           "uploadedAt": "2026-11-27T08:31:02.118Z",
                 *           "changeSeq": 1187
                 *         },
                 *         "reason": "unknown_patient"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["XrayLinkInvalidEvent"];
            };
        };
        responses: {
            /** @description Delivered */
            "2XX": {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Refused: retried later with backoff until the event is parked as dead. 429 is an outage instead: retried (after `Retry-After`) for as long as it lasts, never counted towards dead */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description 502 and 503 are an outage: retried for as long as it lasts, never counted towards dead. Any other status (and no answer within the timeout) counts as a refusal */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onXrayIdentityMismatchEvent: {
        parameters: {
            query?: never;
            header: {
                /** @description The event id (as in the body): de-duplicate on it */
                "x-xray-event-id": string;
                /** @description The event type (as in the body) */
                "x-xray-event-type": "xray.uploaded" | "xray.updated" | "xray.deleted" | "xray.link_invalid" | "xray.identity_mismatch";
                /** @description Unix seconds when signed; refuse values far from your clock (5 minutes) */
                "x-xray-timestamp": string;
                /** @description `v1=<hex HMAC-SHA256(WEBHOOK_SECRET, "<timestamp>.<raw body>")>`; several comma-separated values during a secret rotation: any one matching is enough */
                "x-xray-signature": string;
                /** @description Which delivery attempt of this event this is (1 the first) */
                "x-xray-delivery-attempt": string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "schemaVersion": 2,
                 *       "id": "a9b8c7d6-e5f4-4a3b-9c2d-1e0f9a8b7c6d",
                 *       "type": "xray.identity_mismatch",
                 *       "occurredAt": "2026-11-27T09:02:40.512Z",
                 *       "source": "xray-sync-server",
                 *       "xrayId": "3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13",
                 *       "sequence": 1187,
                 *       "links": {
                 *         "self": "https://xray.hospital.example/api/xrays/3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13",
                 *         "download": "https://xray.hospital.example/api/xrays/3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13/download",
                 *         "preview": "https://xray.hospital.example/api/xrays/3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13/preview"
                 *       },
                 *       "data": {
                 *         "xray": {
                 *           "id": "3f6c1a52-8d0e-4b7a-9c21-5e4f7a9b0c13",
                 *           "patientId": "P-1009",
                 *           "consultationId": null,
                 *           "capturedAt": "2026-11-27T08:15:00.000Z",
                 *           "capturedBy": {
                 *             "sub": "paramedic-7",
                 *             "name": "Sam Ortiz"
                 *           },
                 *           "deviceId": "AMB-12-tablet",
                 *           "bodyPart": "CHEST",
                 *           "view": "PA",
                 *           "priority": "urgent",
                 *           "notes": "Fall from ladder, pain on the right side. Patient picked again: the first pick was wrong.",
                 *           "contentType": "application/dicom",
                 *           "sizeBytes": 18874786,
                 *           "sha256": "9b2f1c4a7e0d3b6c5a8f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b",
                 *           "dicom": {
                 *             "modality": "DX",
                 *             "bodyPartExamined": "CHEST",
                 *             "viewPosition": "PA",
                 *             "studyDate": "20261127",
                 *             "studyInstanceUid": "2.25.118906245931775519474521546716322016401",
                 *             "seriesInstanceUid": "2.25.205137411372928395398312475522133453092",
                 *             "sopInstanceUid": "2.25.309912270823540716231716451307811839575",
                 *             "rows": 3000,
                 *             "columns": 3000,
                 *             "bitsAllocated": 16,
                 *             "transferSyntaxUid": "1.2.840.10008.1.2.1"
                 *           },
                 *           "link": {
                 *             "status": "invalid",
                 *             "reason": "unknown_patient",
                 *             "checkedAt": "2026-11-27T09:02:40.507Z"
                 *           },
                 *           "identity": {
                 *             "status": "mismatch",
                 *             "fields": [
                 *               "patientId"
                 *             ],
                 *             "overridden": false
                 *           },
                 *           "dicomUidConflict": false,
                 *           "uploadedAt": "2026-11-27T08:31:02.118Z",
                 *           "changeSeq": 1187
                 *         },
                 *         "fields": [
                 *           "patientId"
                 *         ],
                 *         "overridden": false,
                 *         "cause": "correction"
                 *       }
                 *     }
                 */
                "application/json": components["schemas"]["XrayIdentityMismatchEvent"];
            };
        };
        responses: {
            /** @description Delivered */
            "2XX": {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Refused: retried later with backoff until the event is parked as dead. 429 is an outage instead: retried (after `Retry-After`) for as long as it lasts, never counted towards dead */
            "4XX": {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description 502 and 503 are an outage: retried for as long as it lasts, never counted towards dead. Any other status (and no answer within the timeout) counts as a refusal */
            "5XX": {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
}
