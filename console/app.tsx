/** The console shell: sign-in gate, top navigation, and the page for the current route. */
import { useEffect, useState } from 'preact/hooks';
import { setUnauthenticatedHandler } from './api.js';
import { href, useRoute } from './router.js';
import { signOut, whoAmI, type Me } from './session.js';
import { SignIn } from './pages/sign-in.js';
import { Projects } from './pages/projects.js';
import { ProjectPage } from './pages/project.js';
import { GroupPage } from './pages/group.js';
import { WorkloadPage } from './pages/workload.js';
import { TokensPage } from './pages/tokens.js';
import { RolesPage } from './pages/roles.js';
import { AuditPage } from './pages/audit.js';
import { Loading } from './ui.js';

export function App() {
  const [me, setMe] = useState<Me | undefined | null>(null);
  const [signedOutMessage, setSignedOutMessage] = useState<string | undefined>(undefined);
  const route = useRoute();
  useEffect(() => {
    const r = route as { project?: string; group?: string; workload?: string };
    document.title = [r.group ?? r.workload, r.project, route.page === 'projects' || route.page === 'project' || route.page === 'group' || route.page === 'workload' ? '' : route.page]
      .filter(Boolean)
      .concat('secret-groups')
      .join(' · ');
  }, [route]);

  useEffect(() => {
    void whoAmI().then(setMe, () => setMe(undefined));
    setUnauthenticatedHandler((message) => {
      setMe((cur) => {
        // A changed session is said even on a reload: this tab will not continue as someone else.
        if (message.startsWith('session changed'))
          setSignedOutMessage(
            'The session changed: this browser now sends a session this page did not sign in to (a sign-in in another tab, or a cookie set by another site on this host). It is not used. Sign in again.',
          );
        else if (cur) setSignedOutMessage('Your session ended (signed out, expired or revoked). Sign in again.');
        return undefined;
      });
    });
  }, []);

  if (me === null) return <Loading what="the console" />;
  if (!me)
    return (
      <SignIn
        message={signedOutMessage}
        onSignedIn={(who) => {
          setSignedOutMessage(undefined);
          setMe(who);
        }}
      />
    );

  const admin = !!me.role?.tokenAdmin;
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href={href.projects()}>
          secret-groups
        </a>
        <nav aria-label="Main">
          <a href={href.projects()} aria-current={route.page === 'projects' ? 'page' : undefined}>
            Projects
          </a>
          {admin ? (
            <>
              <a href={href.tokens()} aria-current={route.page === 'tokens' ? 'page' : undefined}>
                Tokens
              </a>
              <a href={href.roles()} aria-current={route.page === 'roles' ? 'page' : undefined}>
                Roles
              </a>
              <a href={href.audit()} aria-current={route.page === 'audit' ? 'page' : undefined}>
                Audit log
              </a>
            </>
          ) : null}
        </nav>
        <span class="who" title={`token ${me.token.id}`}>
          {me.token.name || me.token.id} · {me.token.role}
        </span>
        <button
          type="button"
          onClick={async () => {
            await signOut().catch(() => undefined);
            setMe(undefined);
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        <Page route={route} me={me} />
      </main>
    </div>
  );
}

function Page({ route, me }: { route: ReturnType<typeof useRoute>; me: Me }) {
  switch (route.page) {
    case 'projects':
      return <Projects me={me} />;
    case 'project':
      return <ProjectPage key={route.project} project={route.project} me={me} />;
    case 'group':
      return <GroupPage key={`${route.project}/${route.group}`} project={route.project} group={route.group} tab={route.tab} me={me} />;
    case 'workload':
      return <WorkloadPage key={`${route.project}/${route.workload}`} project={route.project} workload={route.workload} me={me} />;
    case 'tokens':
      return <TokensPage />;
    case 'roles':
      return <RolesPage admin={!!me.role?.tokenAdmin} />;
    case 'audit':
      return <AuditPage />;
  }
}
