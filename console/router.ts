/**
 * Hash routes (#/p/shop/g/common): the server serves one page, and nothing secret ever goes
 * into a URL (names only).
 */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'projects' }
  | { page: 'project'; project: string }
  | { page: 'group'; project: string; group: string; tab: string }
  | { page: 'workload'; project: string; workload: string }
  | { page: 'tokens' }
  | { page: 'roles' }
  | { page: 'audit' };

export function parse(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [a, b, c, d, e] = parts;
  if (a === 'p' && b) {
    if (c === 'g' && d) return { page: 'group', project: b, group: d, tab: e ?? 'variables' };
    if (c === 'w' && d) return { page: 'workload', project: b, workload: d };
    return { page: 'project', project: b };
  }
  if (a === 'tokens') return { page: 'tokens' };
  if (a === 'roles') return { page: 'roles' };
  if (a === 'audit') return { page: 'audit' };
  return { page: 'projects' };
}

export const href = {
  projects: () => '#/',
  project: (p: string) => `#/p/${encodeURIComponent(p)}`,
  group: (p: string, g: string, tab?: string) => `#/p/${encodeURIComponent(p)}/g/${encodeURIComponent(g)}${tab ? `/${tab}` : ''}`,
  workload: (p: string, w: string) => `#/p/${encodeURIComponent(p)}/w/${encodeURIComponent(w)}`,
  tokens: () => '#/tokens',
  roles: () => '#/roles',
  audit: () => '#/audit',
};

export function navigate(to: string): void {
  location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const on = () => setRoute(parse(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
