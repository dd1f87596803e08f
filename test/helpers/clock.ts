/**
 * Moves this process's clock for time-dependent tests (token lifetimes) instead of sleeping.
 * oidc-provider and openid-client read the time through Date.now, so patching it moves both
 * ends of the protocol together. Tests that move the clock must run serially and reset it.
 */
const realNow = Date.now.bind(Date);
let offsetMs = 0;

export function advanceClock(seconds: number): void {
  offsetMs += seconds * 1000;
  Date.now = () => realNow() + offsetMs;
}

export function resetClock(): void {
  offsetMs = 0;
  Date.now = realNow;
}
