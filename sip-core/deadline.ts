// Timer deadlines as numbers, folded without a closure per timer: absolute ms, -1 meaning none.

/** The earlier of two deadlines in ms, -1 meaning none: what every nextDeadline() folds its timers with. */
export function earliest(at: number, t: number): number {
  return t >= 0 && (at < 0 || t < at) ? t : at;
}
