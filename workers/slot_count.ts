/**
 * How many slots a claim may take: the one count of free slots that the
 * producer asks before it claims (DESIGN.md, "Supervisor parts"). The slot
 * pool, the completer and the producer each tell it their part:
 * - the slot pool, when a slot takes a job and when its job ends;
 * - the completer, how many finishes wait for its next write and whether a
 *   write is out: the next write claims for the slots its finishes freed
 *   (`Producer.rideAlong()`), so a round leaves those slots to it; but a
 *   slot freed while a write is out (a round trip away on PostgreSQL) goes
 *   to a round at once;
 * - the producer, the slots it lent to riding claims not settled yet.
 *
 * Plain counters: nothing here allocates or awaits (it is asked on every
 * job's finish and claim).
 */

/** Free slots and the claims already coming for them; see the module comment. */
export class SlotCount {
  readonly slots: number;
  /** Slots running no job. */
  #free: number;
  /** Finishes waiting for the completer's next write. */
  #finishes = 0;
  /** A completer's write has been sent and not answered yet. */
  #writeOut = false;
  /** Free slots lent to riding claims not settled yet. */
  #lent = 0;

  constructor(slots: number) {
    this.slots = slots;
    this.#free = slots;
  }

  /** Slots a claim round (or a riding claim) may take now. */
  get claimable(): number {
    // Slots of waiting finishes go to the next write's claim, unless a write is out.
    const forNextWrite = this.#writeOut ? 0 : this.#finishes;
    return Math.max(0, this.#free - forNextWrite - this.#lent);
  }

  /** Jobs running now. */
  get running(): number {
    return this.slots - this.#free;
  }

  /**
   * Whether the completer's next write claims for a slot freed now; when
   * not (a write is out), a round should refill it at once.
   */
  get freedSlotsRide(): boolean {
    return !this.#writeOut;
  }

  /** The slot pool: a slot took a job. */
  taken(): void {
    this.#free--;
  }

  /** The slot pool: a slot's job ended. */
  freed(): void {
    this.#free++;
  }

  /** The completer: `count` finishes wait for its next write. */
  finishesWaiting(count: number): void {
    this.#finishes = count;
  }

  /** The completer: a write was sent (`true`) or answered (`false`). */
  writing(out: boolean): void {
    this.#writeOut = out;
  }

  /** The producer: `count` slots go to a riding claim. */
  lend(count: number): void {
    this.#lent += count;
  }

  /** The producer: a riding claim settled (written or failed). */
  giveBack(count: number): void {
    this.#lent -= count;
  }
}
