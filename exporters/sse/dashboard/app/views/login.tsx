// The login box (auth.jwt on the feed): a JWT pasted here is kept for this tab only
// (sessionStorage) and traded for single-use tickets; the feed goes on from its last event.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Auth } from '../auth.js';

export function Login(props: { auth: Auth; renewing: boolean; onCancel?: () => void; onDone?: () => void }) {
  const { auth } = props;
  const [value, setValue] = useState('');
  const [error, setError] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  return (
    <section class="panel login" aria-labelledby="login-h">
      <h2 id="login-h">{props.renewing ? 'Renew the token' : 'Sign in to the feed'}</h2>
      <p>
        {auth.reason || (props.renewing
          ? 'Paste a newer token: the page reconnects with it and goes on from the last event it received.'
          : 'This feed needs a JSON Web Token. It is kept for this tab only, and traded for single-use tickets to follow the stream.')}
      </p>
      <form onSubmit={(e) => {
        e.preventDefault();
        const err = auth.set(value);
        setError(err ?? '');
        if (!err) {
          setValue('');
          props.onDone?.();
        }
      }}>
        <label for="token">Token (JWT)</label>
        <input id="token" ref={input} type="password" autoComplete="off" spellcheck={false} value={value}
          aria-invalid={error ? true : undefined} aria-describedby={error ? 'token-error' : undefined}
          onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)} />
        <button type="submit">{props.renewing ? 'Use this token' : 'Sign in'}</button>
        {props.onCancel ? <button type="button" onClick={props.onCancel}>Cancel</button> : null}
        {error ? <p id="token-error" class="form-error" role="alert">{error}</p> : null}
      </form>
    </section>
  );
}
