import { steeringSuite } from './steering';

// Reply steering with 2 workers: see steering.ts. One file per worker count
// (EAL initialises once per process, with a fixed set of lcores).
steeringSuite(2);
