import { steeringSuite } from './steering';

// Reply steering with 4 workers: see steering.ts. One file per worker count
// (EAL initialises once per process, with a fixed set of lcores).
steeringSuite(4);
