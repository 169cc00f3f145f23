import type { OpenAPIObject } from '@nestjs/swagger';
import { PROBLEM_CONTENT_TYPE, RETRY_AFTER_HEADER } from '../errors/problem';

type Response = { description: string; content?: Record<string, unknown>; headers?: Record<string, unknown> };

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
const PROBLEM_SCHEMA = { $ref: '#/components/schemas/Problem' };

/**
 * The error answers every route can give, whether or not its controller says so, with what they mean. Each is
 * added where the route lacks it, so that a controller's own, more specific description stays.
 */
const COMMON: readonly {
  status: string;
  applies: (path: string, method: (typeof METHODS)[number]) => boolean;
  description: string;
  headers?: Record<string, unknown>;
}[] = [
  {
    // Every route: its input, or a query string with a NUL character or a malformed JSON body, which the
    // middleware refuse whatever the route declares.
    status: '400',
    applies: () => true,
    description: 'The request is not valid: `errors[]` names each field to correct (or the body is not JSON)',
  },
  {
    status: '404',
    applies: (path) => path.includes('{'),
    description:
      'No such record, or one the caller may not see (the same answer either way); an id that is not a UUID too',
  },
  // A route that changes nothing by version refuses an If-Match (UndeclaredInputGuard); those that do
  // document their own 412 (an If-Match that is not a version).
  {
    status: '412',
    applies: () => true,
    description:
      'precondition.failed: an If-Match on a route that is not made conditional on a version (only `*` passes)',
  },
  // Every method: the body parser reads a JSON body whatever the method (a GET or DELETE sent with one too).
  {
    status: '413',
    applies: () => true,
    description: 'The request body is over the size limit',
  },
  {
    status: '415',
    applies: () => true,
    description: 'The request body is not application/json, or its charset or encoding is not supported',
  },
  {
    status: '503',
    applies: () => true,
    description:
      'The database is unavailable, the request met contention (a deadlock, a lock timeout, the access log ' +
      'busy), or it took longer than the statement timeout (HAVEN_DB_STATEMENT_TIMEOUT_MS: ask for less at ' +
      'once): nothing was done; try again after Retry-After seconds',
    headers: RETRY_AFTER_HEADER,
  },
];

/** The field names the document shows: its schemas' properties and its operations' parameters. */
export function publicFieldNames(document: OpenAPIObject): string[] {
  const parameters = Object.values(document.paths).flatMap((item) =>
    METHODS.flatMap((method) => item[method]?.parameters ?? []),
  );
  return [
    ...Object.values(document.components?.schemas ?? {}).flatMap((schema) =>
      'properties' in schema && schema.properties ? Object.keys(schema.properties) : [],
    ),
    ...parameters.flatMap((parameter) => ('name' in parameter && parameter.name ? [parameter.name] : [])),
  ];
}

/**
 * Completes the OpenAPI document's error answers: every error is an RFC 9457 problem
 * (`application/problem+json`, the Problem schema, as ProblemFilter sends it), and every operation lists the
 * answers any route can give (COMMON). Controllers document the errors particular to them.
 */
export function completeProblemResponses(document: OpenAPIObject): OpenAPIObject {
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const responses = op.responses as Record<string, Response>;
      for (const common of COMMON) {
        if (!responses[common.status] && common.applies(path, method)) {
          responses[common.status] = {
            description: common.description,
            ...(common.headers ? { headers: common.headers } : {}),
          };
        } else if (responses[common.status] && common.headers) {
          responses[common.status].headers = { ...common.headers, ...responses[common.status].headers };
        }
      }
      for (const [status, response] of Object.entries(responses)) {
        if (Number(status) < 400) continue;
        const content = response.content ?? {};
        const schema =
          (content[PROBLEM_CONTENT_TYPE] as { schema?: unknown } | undefined)?.schema ??
          (content['application/json'] as { schema?: unknown } | undefined)?.schema ??
          PROBLEM_SCHEMA;
        response.content = { [PROBLEM_CONTENT_TYPE]: { schema } };
      }
    }
  }
  return document;
}
