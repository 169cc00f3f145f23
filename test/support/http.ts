import request from 'supertest';
import type { TestApp } from './app';

/** Requests to `t`'s HTTP server with `token` as their bearer (a JSON body for the writes: `{}` when none). */
export function withBearer(t: TestApp, token: string) {
  const http = () => request(t.app.getHttpServer());
  const signed = (r: request.Test) => r.set('Authorization', `Bearer ${token}`);
  return {
    get: (url: string) => signed(http().get(url)),
    post: (url: string, body: object = {}) => signed(http().post(url)).send(body),
    patch: (url: string, body: object) => signed(http().patch(url)).send(body),
    delete: (url: string) => signed(http().delete(url)),
  };
}
