// A port's kernel (tap) interface name, as its config implies it: the plan
// hands it to the data plane, dpdk/kernel.ts gives it addresses and routes.
import type { Config } from './schema';
import { parseDevice } from './schema';

/** The port's kernel interface name, or null when it has none (ring ports by default). */
export function kernelInterface(p: Config['ports'][number]): string | null {
  if (p.kernel_interface === false) return null;
  if (p.kernel_interface) return p.kernel_interface;
  return parseDevice(p.device)?.kind === 'ring' ? null : `fn-${p.name}`.slice(0, 15);
}
