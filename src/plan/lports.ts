// Local-port ownership: which worker may hand out which LIP port. Must match
// fn_lport_owner() in native/dp/lport.h: the reply for LIP:lport is steered
// to the worker this function names.

export function lportOwner(port: number, workers: number): number {
  return port % workers;
}

/** Ports of [lo, hi] owned by each worker (counts only: slices are derived natively). */
export function lportSliceSizes(lo: number, hi: number, workers: number): number[] {
  const sizes = new Array<number>(workers).fill(0);
  for (let p = lo; p <= hi; p++) sizes[lportOwner(p, workers)]!++;
  return sizes;
}
