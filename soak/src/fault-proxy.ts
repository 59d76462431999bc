import net from 'node:net';

/**
 * How one link behaves, looked up for every new connection (so a schedule can change it while
 * the run goes on). Latency and bandwidth apply per connection and per direction.
 */
export interface LinkProfile {
  /** Added one-way delay of every chunk, in ms. */
  latencyMs: number;
  /** ± this much random delay on top (order is kept: a chunk never overtakes the one before). */
  jitterMs: number;
  /** Bytes per second per connection and direction; 0: no cap. */
  bytesPerSecond: number;
  /** Chance that a connection is reset (RST both ways) at a random moment within `faultWithinMs`. */
  resetChance: number;
  /** Chance that a connection is accepted and then never answered nor closed (a black hole). */
  blackholeChance: number;
  /** Chance that one side of a connection is closed (FIN) at a random moment while the other stays open. */
  halfCloseChance: number;
  /** The window in which a reset or half-close strikes, from the connection's start. */
  faultWithinMs: number;
}

export const CLEAN_LINK: LinkProfile = {
  latencyMs: 0,
  jitterMs: 0,
  bytesPerSecond: 0,
  resetChance: 0,
  blackholeChance: 0,
  halfCloseChance: 0,
  faultWithinMs: 0,
};

export interface Upstream {
  host: string;
  port: number;
}

export interface ProxyStats {
  connections: number;
  /** Client → upstream bytes, as they left the proxy. */
  bytesUp: number;
  /**
   * Bytes the clients sent, as they reached the proxy: `bytesUp` plus what a reset, a half-close or
   * a black hole threw away — what a device pays for on a metered link.
   */
  bytesSent: number;
  /** Upstream → client bytes. */
  bytesDown: number;
  resets: number;
  blackholes: number;
  halfCloses: number;
  /** Connections refused (link down, or no upstream answered). */
  refused: number;
}

export interface FaultProxyOptions {
  name: string;
  /** The upstreams in the order to try them (a load balancer's choice); the next is tried when one refuses. */
  upstreams: () => Upstream[];
  profile: () => LinkProfile;
  random?: () => number;
  /** Called with every byte count as it passes (the run's throughput timeline). */
  onBytes?: (direction: 'up' | 'down', bytes: number) => void;
}

/** Queued but not yet written bytes per direction above which the source is paused (backpressure). */
const HIGH_WATER = 256 * 1024;
/** A black hole holds a connection this long at most, so a client with no timeout does not leak it for ever. */
const BLACKHOLE_MAX_MS = 15 * 60 * 1000;

/**
 * A fault-injecting TCP proxy on loopback, for the soak run: every connection gets added latency
 * and jitter and a bandwidth cap, and by chance a reset, a half-close or a black hole. The link can
 * be taken down (every connection reset, new ones refused: a dead network) and brought back.
 * Bytes are counted in both directions: bytes on the wire, measured outside the client.
 */
export class FaultProxy {
  readonly stats: ProxyStats = {
    connections: 0,
    bytesUp: 0,
    bytesSent: 0,
    bytesDown: 0,
    resets: 0,
    blackholes: 0,
    halfCloses: 0,
    refused: 0,
  };
  readonly #o: FaultProxyOptions;
  readonly #random: () => number;
  readonly #sockets = new Set<net.Socket>();
  /** Open proxied connections: how to half-close each towards its upstream. */
  readonly #towardsUpstream = new Set<() => void>();
  readonly #server: net.Server;
  #down = false;
  #port = 0;

  constructor(opts: FaultProxyOptions) {
    this.#o = opts;
    this.#random = opts.random ?? Math.random;
    // Half-open allowed: a FIN from one side is passed on, not answered by closing the other.
    this.#server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => this.#accept(client));
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => resolve());
    });
    const address = this.#server.address();
    this.#port = typeof address === 'object' && address ? address.port : 0;
    return this.#port;
  }

  /** Down: every open connection is reset and new ones are reset at once; up: normal again. */
  setDown(down: boolean): void {
    this.#down = down;
    if (down) this.resetAll();
  }

  get down(): boolean {
    return this.#down;
  }

  /**
   * Half-closes every open connection towards the upstream now, as the random half-close does half
   * the time: the upstream gets a FIN in the middle of whatever it was receiving, what the client
   * still sends goes nowhere, and the upstream's answers still reach the client.
   */
  halfCloseAllTowardsUpstream(): void {
    for (const halfClose of [...this.#towardsUpstream]) {
      this.stats.halfCloses++;
      halfClose();
    }
  }

  /** Resets every open connection (a NAT box rebooting, a device process dying). */
  resetAll(): void {
    for (const s of this.#sockets) reset(s);
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #track(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  #accept(client: net.Socket): void {
    this.stats.connections++;
    this.#track(client);
    if (this.#down) {
      this.stats.refused++;
      reset(client);
      return;
    }
    const profile = this.#o.profile();
    const roll = this.#random();
    if (roll < profile.blackholeChance) {
      // Accepted, read and thrown away, never answered.
      this.stats.blackholes++;
      client.resume();
      client.on('data', (d: Buffer) => void (this.stats.bytesSent += d.length));
      const timer = setTimeout(() => client.destroy(), BLACKHOLE_MAX_MS);
      client.once('close', () => clearTimeout(timer));
      return;
    }
    void this.#connectUpstream(this.#o.upstreams()).then((upstream) => {
      if (!upstream) {
        this.stats.refused++;
        reset(client);
        return;
      }
      if (client.destroyed || this.#down) {
        reset(upstream);
        reset(client);
        return;
      }
      this.#track(upstream);
      const up = pipeWithFaults(
        client,
        upstream,
        profile,
        this.#random,
        (n) => {
          this.stats.bytesUp += n;
          this.#o.onBytes?.('up', n);
        },
        (n) => void (this.stats.bytesSent += n),
      );
      const down = pipeWithFaults(upstream, client, profile, this.#random, (n) => {
        this.stats.bytesDown += n;
        this.#o.onBytes?.('down', n);
      });
      const closeBoth = (): void => {
        up.cancel();
        down.cancel();
        if (!client.destroyed) client.destroy();
        if (!upstream.destroyed) upstream.destroy();
      };
      // A side that closed after ending cleanly still has its last bytes queued for the other:
      // they are delivered (then the other side ends); a side that died takes the other with it.
      client.once('close', (hadError) => {
        if (hadError || !up.sourceEnded()) closeBoth();
      });
      upstream.once('close', (hadError) => {
        if (hadError || !down.sourceEnded()) closeBoth();
      });
      const halfCloseUp = (): void => {
        this.#towardsUpstream.delete(halfCloseUp);
        up.cancel();
        upstream.end();
      };
      this.#towardsUpstream.add(halfCloseUp);
      client.once('close', () => this.#towardsUpstream.delete(halfCloseUp));
      client.resume();

      const fault = this.#random();
      const at = Math.floor(this.#random() * Math.max(1, profile.faultWithinMs));
      if (fault < profile.resetChance) {
        const timer = setTimeout(() => {
          this.stats.resets++;
          reset(client);
          reset(upstream);
        }, at);
        client.once('close', () => clearTimeout(timer));
      } else if (fault < profile.resetChance + profile.halfCloseChance) {
        const timer = setTimeout(() => {
          this.stats.halfCloses++;
          // One side gets a FIN; the other keeps its connection, and what it sends goes nowhere.
          if (this.#random() < 0.5) {
            down.cancel();
            client.end();
          } else halfCloseUp();
        }, at);
        client.once('close', () => clearTimeout(timer));
      }
    });
  }

  async #connectUpstream(candidates: Upstream[]): Promise<net.Socket | undefined> {
    for (const c of candidates) {
      const socket = await new Promise<net.Socket | undefined>((resolve) => {
        const s = net.connect({ host: c.host, port: c.port, allowHalfOpen: true });
        s.setNoDelay(true);
        s.once('connect', () => {
          s.removeAllListeners('error');
          resolve(s);
        });
        s.once('error', () => resolve(undefined));
      });
      if (socket) return socket;
    }
    return undefined;
  }
}

function reset(socket: net.Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/**
 * Copies `src` to `dst`, each chunk delivered after the link's latency (± jitter) and after the
 * bytes before it had time to pass the bandwidth cap. Returns a handle to stop copying.
 */
function pipeWithFaults(
  src: net.Socket,
  dst: net.Socket,
  profile: LinkProfile,
  random: () => number,
  count: (n: number) => void,
  /** Every byte read from `src`, delivered or not. */
  received?: (n: number) => void,
): { cancel(): void; sourceEnded(): boolean } {
  let cancelled = false;
  let linkFreeAt = 0;
  let lastDeliveryAt = 0;
  let queuedBytes = 0;
  let ended = false;
  // One FIFO and one timer: chunks leave strictly in the order they came.
  const queue: { at: number; chunk: Buffer }[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = (): void => {
    timer = undefined;
    if (cancelled) return;
    const now = Date.now();
    while (queue.length > 0 && queue[0]!.at <= now) {
      const { chunk } = queue.shift()!;
      queuedBytes -= chunk.length;
      if (!dst.destroyed && dst.writable) {
        count(chunk.length);
        dst.write(chunk);
      }
    }
    if (queuedBytes <= HIGH_WATER / 2 && src.isPaused()) src.resume();
    if (queue.length > 0) timer = setTimeout(flush, Math.max(0, queue[0]!.at - Date.now()));
    else if (ended && !dst.destroyed) dst.end();
  };
  src.on('data', (chunk: Buffer) => {
    received?.(chunk.length);
    if (cancelled) return;
    const now = Date.now();
    const txMs = profile.bytesPerSecond > 0 ? (chunk.length / profile.bytesPerSecond) * 1000 : 0;
    linkFreeAt = Math.max(linkFreeAt, now) + txMs;
    const jitter = profile.jitterMs > 0 ? (random() * 2 - 1) * profile.jitterMs : 0;
    const at = Math.max(lastDeliveryAt, linkFreeAt + Math.max(0, profile.latencyMs + jitter));
    lastDeliveryAt = at;
    queuedBytes += chunk.length;
    queue.push({ at, chunk });
    if (queuedBytes > HIGH_WATER) src.pause();
    if (timer === undefined) timer = setTimeout(flush, Math.max(0, queue[0]!.at - now));
  });
  src.on('end', () => {
    ended = true;
    if (!cancelled && queue.length === 0 && timer === undefined && !dst.destroyed) dst.end();
  });
  return {
    sourceEnded: () => ended,
    cancel() {
      cancelled = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      queue.length = 0;
      // Still read (and drop) what this side sends, like a half-closed middlebox.
      src.resume();
    },
  };
}
