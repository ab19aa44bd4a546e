import { useState, type FormEvent } from "react";
import { signIn } from "../api/client";
import { describeError } from "../api/errors";
import { t } from "../strings";
import { ErrorMessage } from "../ui/Status";

export function SignIn({ ended }: { ended: boolean }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(null);
    try {
      await signIn(String(form.get("email")), String(form.get("password")));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }
  return (
    <main id="main" className="signin">
      <h1>{t.app}</h1>
      <form onSubmit={submit} className="card" aria-labelledby="signin-title">
        <h2 id="signin-title">{t.signIn.title}</h2>
        {ended && !error && <p role="status">{t.signIn.expired}</p>}
        <label>
          {t.signIn.email}
          <input name="email" type="email" autoComplete="username" required autoFocus />
        </label>
        <label>
          {t.signIn.password}
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        {error !== null && <ErrorMessage text={describeError(error)} />}
        <button type="submit" disabled={busy}>
          {busy ? t.signIn.busy : t.signIn.submit}
        </button>
      </form>
    </main>
  );
}
