import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './harness.ts';

// A cell handover can half-close a connection mid-upload: the client's side ends while the body is
// incomplete. Node's own answer to that is a bare `400 Bad Request`, which an uploader takes as a
// final refusal of its X-ray (found by the soak). The server closes such a connection unanswered,
// so the client sees a network failure and resumes.
describe('a connection half-closed by the client in the middle of a request body', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer('fs');
  });
  afterAll(async () => {
    await server?.close();
  });

  const halfClose = (head: string, body: Buffer): Promise<string> =>
    new Promise((resolve, reject) => {
      const { port, hostname } = new URL(server.url);
      const socket = net.connect(Number(port), hostname, () => {
        socket.write(head);
        socket.write(body);
        setTimeout(() => socket.end(), 200);
      });
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
      socket.setTimeout(15_000, () => socket.destroy(new Error('no close within 15 s')));
    });

  it('is closed without a 400 that would read as a refusal (POST /xrays)', async () => {
    const head =
      `POST /xrays HTTP/1.1\r\nHost: ${new URL(server.url).host}\r\n` +
      'Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n';
    const got = await halfClose(head, Buffer.from('--b\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n{'));
    expect(got).not.toMatch(/^HTTP\/1\.1 400/);
  });

  it('a request the parser cannot read at all still gets its 400', async () => {
    const got = await new Promise<string>((resolve, reject) => {
      const { port, hostname } = new URL(server.url);
      const socket = net.connect(Number(port), hostname, () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(got).toMatch(/^HTTP\/1\.1 400 Bad Request/);
  });
});
