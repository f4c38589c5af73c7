// One fixed-capacity min-heap of (deadline, slot, generation) for every protocol timer of a pool: no closure per timer.
//
// Entries are never removed early: a slot that changes its deadline pushes a new entry, and an entry
// whose generation or deadline no longer matches its slot is skipped when it surfaces (lazy deletion).
// When the heap is full the owner rebuilds it from the live slots (compact), so it never grows.

/** The earlier of two deadlines in ms, -1 meaning none: what every nextDeadline() folds its timers with. */
export function earliest(at: number, t: number): number {
  return t >= 0 && (at < 0 || t < at) ? t : at;
}

export class TimerHeap {
  readonly capacity: number;
  size = 0;
  private readonly at: Float64Array;
  private readonly slot: Int32Array;
  private readonly gen: Int32Array;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.at = new Float64Array(capacity);
    this.slot = new Int32Array(capacity);
    this.gen = new Int32Array(capacity);
  }

  /** Adds an entry; false when full (the caller compacts and retries). */
  push(at: number, slot: number, gen: number): boolean {
    if (this.size >= this.capacity) return false;
    let i = this.size++;
    // Sift up.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.at[parent] <= at) break;
      this.at[i] = this.at[parent];
      this.slot[i] = this.slot[parent];
      this.gen[i] = this.gen[parent];
      i = parent;
    }
    this.at[i] = at;
    this.slot[i] = slot;
    this.gen[i] = gen;
    return true;
  }

  /** Earliest deadline, or -1 when empty. */
  peekAt(): number { return this.size > 0 ? this.at[0] : -1; }
  peekSlot(): number { return this.slot[0]; }
  peekGen(): number { return this.gen[0]; }

  /** Removes the earliest entry. */
  pop(): void {
    const n = --this.size;
    if (n <= 0) { this.size = 0; return; }
    const at = this.at[n];
    const slot = this.slot[n];
    const gen = this.gen[n];
    let i = 0;
    // Sift down.
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.at[child + 1] < this.at[child]) child++;
      if (this.at[child] >= at) break;
      this.at[i] = this.at[child];
      this.slot[i] = this.slot[child];
      this.gen[i] = this.gen[child];
      i = child;
    }
    this.at[i] = at;
    this.slot[i] = slot;
    this.gen[i] = gen;
  }

  clear(): void { this.size = 0; }
}
