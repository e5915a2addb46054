/** What every service needs, wired once by startServer. */
import type { Store } from '../store/store.js';
import type { WatchHub } from '../watch/hub.js';
import type { Audit } from './audit.js';
import type { Snapshots } from '../watch/snapshots.js';

export interface Deps {
  store: Store;
  snapshots: Snapshots;
  hub: WatchHub;
  audit: Audit;
  now: () => number;
}

/** Retries of a read-modify-write that lost a race, when the caller gave no expected revision. */
export const MAX_WRITE_ATTEMPTS = 8;
