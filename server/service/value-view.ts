/** Which group types' values a caller may read: for size checks and previews, which must not measure or compare what it cannot read. */
import type { SizeView } from '../domain/sizes.js';
import type { Principal } from '../security/principal.js';

export const valueView = (p: Principal): SizeView => ({ secret: p.seesValues('secret'), config: p.seesValues('config') });
