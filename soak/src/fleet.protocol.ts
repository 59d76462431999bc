import type { RetryConfig } from '../../apps/edge/src/sync/retry.policy.ts';

/** Orchestrator → fleet. */
export type FleetCommand =
  | {
      op: 'init';
      devices: { name: string; apiBase: string }[];
      settings: {
        concurrency: 1 | 2;
        chunkSize: number;
        retentionMs: number;
        retry: Partial<RetryConfig>;
        sampleMs: number;
      };
    }
  | {
      op: 'capture';
      device: string;
      seq: number;
      sizeBytes: number;
      priority: 'urgent' | 'routine';
      seed: number;
      patientId: string;
    }
  /** What the OS reports (the engine's network monitor). */
  | { op: 'net'; device: string; online: boolean }
  /** The link itself down or back, whether the OS noticed or not (the drain clock). */
  | { op: 'link'; device: string; up: boolean }
  | { op: 'kill'; device: string }
  | { op: 'boot'; device: string }
  | { op: 'finish' };

export interface DeviceSample {
  device: string;
  /** Captures still to send (queued, uploading, verifying, retrying; not needs-attention, which waits for a person). */
  depth: number;
  running: boolean;
  online: boolean;
  state?: string | undefined;
  /** Count per status of the captures not synced. */
  statuses?: Record<string, number>;
  /** The last error of a capture not synced. */
  lastError?: string | undefined;
}

/** Fleet → orchestrator. */
export type FleetReport =
  | { ev: 'ready' }
  | {
      ev: 'captured';
      device: string;
      seq: number;
      id: string;
      /** sha256 of the plaintext, computed here beside the edge's own. */
      sha256: string;
      edgeSha256: string;
      priority: 'urgent' | 'routine';
      sizeBytes: number;
      ciphertextSize: number;
      at: number;
      ms: number;
    }
  | { ev: 'synced'; device: string; id: string; syncedAt: number; createdAt: number }
  | { ev: 'attention'; device: string; id: string; error: string }
  | { ev: 'drained'; device: string; ms: number }
  | { ev: 'sample'; at: number; devices: DeviceSample[] }
  | { ev: 'capture-failed'; device: string; seq: number }
  | { ev: 'finished'; errors: string[]; errorCounts: Record<string, number>; unhandled: number }
  | { ev: 'error'; message: string };
