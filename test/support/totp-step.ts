/** The TOTP step, as the service checks codes (RFC 6238's default). */
const STEP_MS = 30_000;

/**
 * Waits for the next TOTP step when less than `marginMs` is left of the current one. A test that makes a code for
 * a step next to the current one needs it still next to it when the server checks it, after a round trip and a
 * password hash (a few hundred ms on a loaded machine): made just before a step ends, the code of the step before
 * would be two steps old by then, and refused (about one run in a hundred).
 */
export async function clearOfTotpStepEnd(marginMs = 3_000): Promise<void> {
  const left = STEP_MS - (Date.now() % STEP_MS);
  if (left < marginMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}
