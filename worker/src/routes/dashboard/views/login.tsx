/** The sign-in form: an analyst or admin API key, posted once and traded for a session cookie. */
import { page } from "./layout";

export function loginPage(props: { refused?: string }) {
  return page({
    title: "Sign in · revenue dashboard",
    children: (
      <section class="signin">
        <h2>Sign in</h2>
        <p>Paste an analyst or admin API key. It is used once to open a session and is not kept in the browser.</p>
        {props.refused ? (
          <p class="refused" role="alert">
            {props.refused}
          </p>
        ) : null}
        <form method="post" action="/dashboard/login">
          <label for="key">API key</label>
          <input id="key" name="key" type="password" autocomplete="off" spellcheck={false} required maxlength={200} placeholder="fja_..." />
          <button type="submit">Sign in</button>
        </form>
      </section>
    ),
  });
}
