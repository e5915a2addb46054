import { call } from '../api.js';
import { ProjectServiceDefinition } from '../gen.js';
import { useAction, useLive } from '../hooks.js';
import { href, navigate } from '../router.js';
import type { Me } from '../session.js';
import { ErrorBox, Field, Loading } from '../ui.js';

export function Projects({ me }: { me: Me }) {
  const list = useLive(() => call(ProjectServiceDefinition, 'listProjects', {}), []);
  const [busy, error, run] = useAction();
  return (
    <section>
      <h1>Projects</h1>
      <ErrorBox error={list.error} />
      {!list.data ? (
        <Loading what="projects" />
      ) : list.data.projects.length === 0 ? (
        <p class="muted">No project you may see yet.</p>
      ) : (
        <ul class="cards">
          {list.data.projects.map((p) => (
            <li>
              <a href={href.project(p.name)}>{p.name}</a>
            </li>
          ))}
        </ul>
      )}
      {me.role?.projectAdmin ? (
        <form
          class="inline"
          onSubmit={async (e) => {
            e.preventDefault();
            const input = (e.currentTarget.elements.namedItem('name') as HTMLInputElement);
            const name = input.value.trim();
            const done = await run(() => call(ProjectServiceDefinition, 'createProject', { name }));
            if (done) navigate(href.project(name));
          }}
        >
          <h2>New project</h2>
          <Field label="Project name">
            <input name="name" required pattern="[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?" />
          </Field>
          <button type="submit" disabled={busy}>
            Create project
          </button>
          <ErrorBox error={error} />
        </form>
      ) : null}
    </section>
  );
}
