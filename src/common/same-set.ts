/** Whether two lists hold the same values, whatever their order and repetitions. */
export function sameSet<T>(a: readonly T[], b: readonly T[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...right].every((x) => left.has(x));
}
