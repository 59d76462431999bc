/**
 * "Online → queue empty" for one device: the time from the device becoming able to reach the
 * servers (or restarting) with captures queued to its queue being empty. Reachable means the OS
 * says online and the link is up: a dead zone the device does not notice (the OS still says online)
 * stops the clock as an OS-reported one does, and its end starts it again — so the figure includes
 * the engine's backoff after a silent dead zone and never the time spent in one.
 */
export class DrainClock {
  #osOnline = true;
  #linkUp = true;
  #running = true;
  #since: number | undefined;

  get reachable(): boolean {
    return this.#osOnline && this.#linkUp;
  }

  /** The OS reports the network (navigator.onLine): the engine is told the same. */
  os(online: boolean, now: number, depth: number): void {
    this.#set(() => (this.#osOnline = online), now, depth);
  }

  /** The link itself went down or came back (the OS may or may not have noticed). */
  link(up: boolean, now: number, depth: number): void {
    this.#set(() => (this.#linkUp = up), now, depth);
  }

  kill(): void {
    this.#running = false;
    this.#since = undefined;
  }

  boot(now: number, depth: number): void {
    this.#running = true;
    this.#since = this.reachable && depth > 0 ? now : undefined;
  }

  /** A sample of the queue: the time measured when it is empty and the clock ran, else undefined. */
  sample(now: number, depth: number): number | undefined {
    if (depth > 0 || this.#since === undefined) return undefined;
    const ms = now - this.#since;
    this.#since = undefined;
    return ms;
  }

  #set(change: () => void, now: number, depth: number): void {
    const was = this.reachable;
    change();
    if (!this.reachable) this.#since = undefined;
    else if (!was && this.#running && depth > 0) this.#since = now;
  }
}
