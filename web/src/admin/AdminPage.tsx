import { useState, type FormEvent } from "react";
import { describeError } from "../api/errors";
import type { ApiKeyCreate } from "../api/types";
import { useCan } from "../auth/session";
import { t } from "../strings";
import { formatDay } from "../ui/format";
import { ErrorMessage, Loading, QueryError } from "../ui/Status";
import { useCreateKey, useCreateUser, useKeys, useOrganization, useRevokeKey, useUpdateOrg, useUpdateUser, useUsers } from "./hooks";

const SCOPES = ["properties:read", "risk:read", "portfolios:read", "portfolios:write", "alerts:read", "alerts:write"] as const;

function Users() {
  const users = useUsers();
  const create = useCreateUser();
  const update = useUpdateUser();
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const form = e.currentTarget;
    create.mutate(
      { email: String(f.get("email")), password: String(f.get("password")), role: f.get("role") as "viewer" },
      { onSuccess: () => form.reset() },
    );
  };
  return (
    <section className="card" aria-labelledby="users-title">
      <h2 id="users-title">{t.admin.users}</h2>
      {users.isPending && <Loading />}
      {users.isError && <QueryError error={users.error} />}
      {update.isError && <ErrorMessage text={describeError(update.error)} />}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t.admin.email}</th>
              <th scope="col">{t.admin.role}</th>
              <th scope="col">{t.admin.active}</th>
            </tr>
          </thead>
          <tbody>
            {users.data?.map((u) => (
              <tr key={u.id}>
                <td>{u.email}</td>
                <td>
                  <select
                    aria-label={`${t.admin.role}: ${u.email}`}
                    value={u.role}
                    onChange={(e) => update.mutate({ id: u.id, role: e.target.value })}
                  >
                    {Object.entries(t.admin.roles).map(([k, label]) => (
                      <option key={k} value={k}>
                        {label}
                      </option>
                    ))}
                  </select>
                </td>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`${t.admin.active}: ${u.email}`}
                    checked={u.is_active}
                    onChange={(e) => update.mutate({ id: u.id, is_active: e.target.checked })}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form onSubmit={submit} className="inline-form">
        <h3>{t.admin.addUser}</h3>
        <label>
          {t.admin.email}
          <input name="email" type="email" required />
        </label>
        <label>
          {t.admin.password}
          <input name="password" type="password" minLength={12} required autoComplete="new-password" />
        </label>
        <label>
          {t.admin.role}
          <select name="role" defaultValue="viewer">
            {Object.entries(t.admin.roles).map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" disabled={create.isPending}>
          {t.admin.addUser}
        </button>
        {create.isError && <ErrorMessage text={describeError(create.error)} />}
      </form>
    </section>
  );
}

function Keys() {
  const keys = useKeys();
  const create = useCreateKey();
  const revoke = useRevokeKey();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Set<string>>(new Set(["properties:read", "risk:read"]));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ name, scopes: [...scopes] as ApiKeyCreate["scopes"], expires_in_days: 90 }, { onSuccess: () => setName("") });
  };
  return (
    <section className="card" aria-labelledby="keys-title">
      <h2 id="keys-title">{t.admin.keys}</h2>
      {create.data && (
        <div role="status" className="shown-once">
          <p>{t.admin.shownOnce}</p>
          <code data-testid="new-key">{create.data.key}</code>
        </div>
      )}
      {keys.isError && <QueryError error={keys.error} />}
      {revoke.isError && <ErrorMessage text={describeError(revoke.error)} />}
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">{t.admin.keyName}</th>
              <th scope="col">{t.admin.keyScopes}</th>
              <th scope="col">{t.admin.expires}</th>
              <th scope="col">
                <span className="visually-hidden">{t.admin.revoke}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.data?.map((k) => (
              <tr key={k.id}>
                <td>
                  {k.name} <code className="muted">{k.prefix}…</code>
                </td>
                <td>{k.scopes.join(", ")}</td>
                <td>{k.expires_at ? formatDay(k.expires_at) : t.admin.never}</td>
                <td>
                  {k.revoked_at ? (
                    t.admin.revoked
                  ) : (
                    <button type="button" className="secondary" onClick={() => revoke.mutate(k.id)}>
                      {t.admin.revoke} <span className="visually-hidden">{k.name}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form onSubmit={submit} className="inline-form">
        <label>
          {t.admin.keyName}
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
        </label>
        <fieldset>
          <legend>{t.admin.keyScopes}</legend>
          {SCOPES.map((s) => (
            <label key={s} className="inline">
              <input
                type="checkbox"
                checked={scopes.has(s)}
                onChange={(e) => {
                  const next = new Set(scopes);
                  if (e.target.checked) next.add(s);
                  else next.delete(s);
                  setScopes(next);
                }}
              />
              {s}
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={create.isPending || scopes.size === 0}>
          {t.admin.createKey}
        </button>
        {create.isError && <ErrorMessage text={describeError(create.error)} />}
      </form>
    </section>
  );
}

function Org() {
  const org = useOrganization();
  const update = useUpdateOrg();
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    update.mutate({ name: String(f.get("name")), timezone: String(f.get("timezone")) });
  };
  if (!org.data) return org.isError ? <QueryError error={org.error} /> : <Loading />;
  return (
    <form className="card inline-form" onSubmit={submit} aria-labelledby="org-title">
      <h2 id="org-title">{t.admin.org}</h2>
      <label>
        {t.admin.orgName}
        <input name="name" defaultValue={org.data.name} required />
      </label>
      <label>
        {t.admin.timezone}
        <input name="timezone" defaultValue={org.data.timezone} required />
      </label>
      <button type="submit" disabled={update.isPending}>
        {t.common.save}
      </button>
      {update.isError && <ErrorMessage text={describeError(update.error)} />}
    </form>
  );
}

export default function AdminPage() {
  const can = useCan();
  if (!can.admin) return <p role="alert">{t.errors.forbidden}</p>;
  return (
    <>
      <h1>{t.admin.title}</h1>
      <Users />
      <Keys />
      <Org />
    </>
  );
}
