import type { TestApp } from './test-app.js';

/** A signed-in ops console session over supertest: the cookies to send and a CSRF token for forms. */
export interface ConsoleSession {
  readonly cookie: string[];
  readonly csrf: string;
}

const cookiesOf = (setCookie: string | string[] | undefined): string[] =>
  (Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []).map((c) => c.split(';')[0]);

const csrfIn = (html: string): string => {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error('no CSRF token on the page');
  return match[1];
};

/** Signs in to /ops with `apiKey` (the bootstrap admin's by default), as the sign-in form does. */
export async function signInToConsole(t: TestApp, apiKey = t.adminKey): Promise<ConsoleSession> {
  const form = await t.http.get('/ops/sign-in').expect(200);
  const csrfCookie = cookiesOf(form.headers['set-cookie']);
  const signedIn = await t.http.post('/ops/sign-in').set('Cookie', csrfCookie).type('form').send({ apiKey, _csrf: csrfIn(form.text) }).expect(303);
  const cookie = [...csrfCookie, ...cookiesOf(signedIn.headers['set-cookie'])];
  const page = await t.http.get('/ops').set('Cookie', cookie).expect(200);
  return { cookie, csrf: csrfIn(page.text) };
}

/** GET a console page as the signed-in admin. */
export const consoleGet = (t: TestApp, session: ConsoleSession, path: string) => t.http.get(path).set('Cookie', session.cookie);

/** POST a console form as the signed-in admin, with its CSRF token. */
export const consolePost = (t: TestApp, session: ConsoleSession, path: string, form: Record<string, string>) =>
  t.http.post(path).set('Cookie', session.cookie).type('form').send({ ...form, _csrf: session.csrf });
