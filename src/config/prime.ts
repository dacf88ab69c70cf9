// Primality, for the Maglev table size: config validation refuses a size that
// is not prime and the plan builds the table; both import it from here.

/** Deterministic primality test (trial division by 6k +/- 1; table sizes are small). */
export function isPrime(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 2) return false;
  if (n < 4) return true;
  if (n % 2 === 0 || n % 3 === 0) return false;
  for (let d = 5; d * d <= n; d += 6) {
    if (n % d === 0 || n % (d + 2) === 0) return false;
  }
  return true;
}
