// Hugepages for the bench's data-plane children, as a production host has
// them (docs/production.md): 2 MiB pages take TLB misses out of large session
// tables. The bench reserves pages for its run and gives back what it added.
// Without root (or if the kernel cannot reserve them) it runs on 4 KiB pages
// (--no-huge) and says so in its results.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

const NR = '/proc/sys/vm/nr_hugepages';
const MOUNT = '/dev/hugepages';
/** Environment flag the children read (bench/model.ts). */
export const HUGEPAGES_ENV = 'FN_BENCH_HUGEPAGES';

export interface Reservation {
  pages: number;
  release(): void;
}

function mounted(): boolean {
  return fs.readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => l.split(' ')[2] === 'hugetlbfs');
}

/** Reserves `mb` MiB of 2 MiB pages (on top of what is free); returns why not, as a string, if it cannot. */
export function reserveHugepages(mb: number): Reservation | string {
  if (process.getuid?.() !== 0) return 'not root';
  let mountedHere = false;
  try {
    if (!mounted()) {
      fs.mkdirSync(MOUNT, { recursive: true });
      execFileSync('mount', ['-t', 'hugetlbfs', 'nodev', MOUNT], { stdio: 'ignore' });
      mountedHere = true;
    }
    const before = Number(fs.readFileSync(NR, 'utf8'));
    const free = Number(/HugePages_Free:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
    const want = Math.ceil(mb / 2);
    const target = before + Math.max(0, want - free);
    fs.writeFileSync(NR, String(target));
    const got = Number(fs.readFileSync(NR, 'utf8'));
    const release = () => {
      try {
        fs.writeFileSync(NR, String(before));
        if (mountedHere) execFileSync('umount', [MOUNT], { stdio: 'ignore' });
      } catch {
        // best effort: a page still mapped by a dying child is freed with it
      }
    };
    if (got < target) {
      release();
      return `the kernel reserved ${got - before} of ${target - before} more 2 MiB pages (memory fragmented?)`;
    }
    return { pages: want, release };
  } catch (e) {
    return `cannot reserve hugepages: ${(e as Error).message}`;
  }
}

/**
 * Removes what an ended child's EAL left under its own --file-prefix: its
 * runtime directory (config files stay there when hugepages are used) and
 * hugepage files of a child that died before rte_eal_cleanup.
 */
export function removeChildLeftovers(prefix: string): void {
  const runtime = process.getuid?.() === 0 ? '/var/run/dpdk' : `${process.env.XDG_RUNTIME_DIR ?? '/tmp'}/dpdk`;
  fs.rmSync(`${runtime}/${prefix}`, { recursive: true, force: true });
  try {
    for (const f of fs.readdirSync(MOUNT)) if (f.startsWith(prefix)) fs.rmSync(`${MOUNT}/${f}`, { force: true });
  } catch {
    // no hugetlbfs mounted: nothing to remove
  }
}
