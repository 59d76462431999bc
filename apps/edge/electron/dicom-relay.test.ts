import { describe, expect, it } from 'vitest';
import type { ReceivedInstance } from './dicom-receiver.ts';
import { createInstanceRelay, type InstanceMessage } from './dicom-relay.ts';

const instance = (uid: string): ReceivedInstance => ({
  bytes: Uint8Array.of(1, 2, 3),
  sopClassUid: '1.2.840.10008.5.1.4.1.1.1.1',
  sopInstanceUid: uid,
  transferSyntaxUid: '1.2.840.10008.1.2.1',
  callingAeTitle: 'DET',
});

describe('instance relay (main process ↔ the app)', () => {
  it('refuses while no app handles instances; resolves only on the app’s "queued"', async () => {
    const sent: InstanceMessage[] = [];
    const relay = createInstanceRelay({ send: (m) => sent.push(m) });
    await expect(relay.deliver(instance('1.1'))).rejects.toThrow('the app is not open');
    expect(sent).toEqual([]);

    relay.setReady(true);
    let done = false;
    const delivered = relay.deliver(instance('1.2')).then(() => (done = true));
    expect(sent.map((m) => m.sopInstanceUid)).toEqual(['1.2']);
    relay.settle({ requestId: 'someone-else', ok: true });
    await Promise.resolve();
    expect(done).toBe(false);
    relay.settle({ requestId: sent[0]?.requestId, ok: true });
    await delivered;
    expect(relay.waiting).toBe(0);
  });

  it('passes the app’s failure on; a reload fails what was waiting; a silent app times out', async () => {
    const sent: InstanceMessage[] = [];
    const relay = createInstanceRelay({ send: (m) => sent.push(m), timeoutMs: 50 });
    relay.setReady(true);
    const refused = relay.deliver(instance('2.1'));
    relay.settle({ requestId: sent[0]?.requestId, ok: false, message: 'storage full' });
    await expect(refused).rejects.toThrow('storage full');

    const cut = relay.deliver(instance('2.2'));
    relay.setReady(false);
    await expect(cut).rejects.toThrow('reloaded');

    relay.setReady(true);
    await expect(relay.deliver(instance('2.3'))).rejects.toThrow('in time');
  });
});
