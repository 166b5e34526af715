/**
 * The one source of time. Domain code takes a Clock and never reads the system time itself,
 * so tests, replays and Stripe test clocks can decide what "now" is. This is the only file that
 * may call Date.now() (a structure test checks it).
 */
export interface Clock {
  /** Unix milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock stopped at one instant (a request's start, a test's moment). */
export function fixedClock(at: number): Clock {
  return { now: () => at };
}

/**
 * A clock that starts at `start` and runs at wall-clock speed: a cron run is dated from its
 * scheduled time, so a delayed or replayed run decides what is due as of when it was meant to run.
 */
export function clockFrom(start: number): Clock {
  const began = Date.now();
  return { now: () => start + (Date.now() - began) };
}
