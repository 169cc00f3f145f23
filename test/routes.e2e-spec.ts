import { METHOD_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getMetadataStorage, ValidationTypes } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import request from 'supertest';
import { POLICY_KEY, PUBLIC_KEY, RoutePolicy } from '../src/authz/policy.decorator';
import { STEP_UP_KEY } from '../src/authz/step-up';
import { ERROR_CATALOG } from '../src/common/errors/error-catalog';
import { schemaOf } from '../src/common/http/openapi-constraints';
import { startTestApp, TestApp } from './support/app';

/**
 * Every route of the API with who may reach it (its @Policy, or PUBLIC), compared with the committed file
 * test/snapshots/routes.txt: any change to who can reach what shows up as a reviewed diff of that file.
 * Regenerate it with `UPDATE_SNAPSHOTS=1 npx jest --config config/jest.config.js test/routes.e2e-spec.ts`.
 */
const SNAPSHOT = join(__dirname, 'snapshots', 'routes.txt');

describe('route policies (snapshot)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('lists every route with its policy, and matches the reviewed snapshot', async () => {
    // Paths come from the OpenAPI document (global prefix and exclusions applied, every route documented);
    // the decision comes from the decorators on the handler that the operation id names.
    const doc = (await request(t.app.getHttpServer()).get('/docs-json').expect(200)).body as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    const handlers = new Map<string, { target: object; handler: object }>();
    for (const module of t.app.get(ModulesContainer).values()) {
      for (const wrapper of module.controllers.values()) {
        const cls = wrapper.metatype as (new (...a: never[]) => object) | null;
        if (!cls) continue;
        for (const name of Object.getOwnPropertyNames(cls.prototype)) {
          const handler = (cls.prototype as Record<string, unknown>)[name];
          if (name !== 'constructor' && typeof handler === 'function') {
            handlers.set(`${cls.name}_${name}`, { target: cls, handler });
          }
        }
      }
    }

    const rows: { path: string; method: string; decision: string }[] = [];
    const undecided: string[] = [];
    const unnamed: string[] = [];
    const documented = new Set<string>();
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        documented.add(op.operationId);
        const h = handlers.get(op.operationId);
        if (!h) throw new Error(`no handler for ${op.operationId}`);
        const isPublic =
          Reflect.getMetadata(PUBLIC_KEY, h.handler) === true ||
          Reflect.getMetadata(PUBLIC_KEY, h.target) === true;
        const policy = Reflect.getMetadata(POLICY_KEY, h.handler) as RoutePolicy | undefined;
        const stepUp = Reflect.getMetadata(STEP_UP_KEY, h.handler) === true ? ' + step-up' : '';
        // What the path's parameters name (@Policy's `on`), as the access log's refusal entries read them.
        const named = Object.entries(policy?.on ?? {}).map(([what, param]) => `${what} {${String(param)}}`);
        const decision = isPublic
          ? 'PUBLIC'
          : policy
            ? `${policy.action} ${policy.subject}${stepUp}${named.length ? ` on ${named.join(', ')}` : ''}`
            : 'DENIED (no @Policy)';
        if (!isPublic && !policy) undecided.push(`${method.toUpperCase()} ${path}`);
        // Every path parameter of a guarded route is named by its @Policy, and only those: a renamed one fails.
        const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
        const declared = [...new Set(Object.values(policy?.on ?? {}))].sort();
        if (policy && params.join() !== declared.join()) {
          unnamed.push(
            `${method.toUpperCase()} ${path}: parameters ${params.join()}, named ${declared.join()}`,
          );
        }
        rows.push({ path, method: method.toUpperCase(), decision });
      }
    }
    rows.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
    const text = rows.map((r) => `${r.method.padEnd(6)} ${r.path.padEnd(48)} ${r.decision}\n`).join('');

    // No route hides from the document (and so from this list): every routed handler has an operation.
    const routed = [...handlers.entries()]
      .filter(([, h]) => Reflect.getMetadata(METHOD_METADATA, h.handler) !== undefined)
      .map(([id]) => id);
    expect(routed.filter((id) => !documented.has(id))).toEqual([]);

    // Test-only controllers aside, every route must state its access decision explicitly.
    expect(undecided).toEqual([]);
    expect(unnamed).toEqual([]);
    expect(text).toMatch(/^POST\s+\/api\/v1\/auth\/login\s+PUBLIC$/m);
    expect(text).toMatch(/^GET\s+\/health\s+PUBLIC$/m);

    if (process.env.UPDATE_SNAPSHOTS === '1' && !process.env.CI) writeFileSync(SNAPSHOT, text);
    expect(existsSync(SNAPSHOT)).toBe(true);
    expect(text).toBe(readFileSync(SNAPSHOT, 'utf8'));
  });

  it('documents when to try again on every rate-limited route (429 with Retry-After)', async () => {
    const doc = (await request(t.app.getHttpServer()).get('/docs-json').expect(200)).body as {
      paths: Record<string, Record<string, { responses: Record<string, { headers?: object }> }>>;
    };
    const limited = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([, op]) => op.responses['429'])
        .map(([method, op]) => ({
          route: `${method.toUpperCase()} ${path}`,
          headers: op.responses['429'].headers,
        })),
    );
    expect(limited.map((l) => l.route).sort()).toEqual([
      'GET /api/v1/audit/verify',
      'POST /api/v1/auth/login',
      'POST /api/v1/auth/password',
      'POST /api/v1/auth/step-up',
      'POST /api/v1/auth/totp/verify',
      'POST /api/v1/cases/search',
      'POST /api/v1/cases/{id}/break-glass',
      'POST /api/v1/cases/{id}/shred',
    ]);
    for (const l of limited) expect(l.headers).toHaveProperty('Retry-After');
  });

  describe('the OpenAPI document’s answers', () => {
    interface Op {
      parameters?: { in: string }[];
      requestBody?: object;
      responses: Record<string, { content?: Record<string, { schema?: object }>; headers?: object }>;
    }
    let doc: { paths: Record<string, Record<string, Op>>; components: { schemas: Record<string, any> } };
    const operations = () =>
      Object.entries(doc.paths).flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, op]) => ({
          route: `${method.toUpperCase()} ${path}`,
          path,
          op,
        })),
      );
    beforeAll(async () => {
      doc = (await request(t.app.getHttpServer()).get('/docs-json').expect(200)).body;
    });

    it('every error is a problem (application/problem+json), as the filter sends it', () => {
      const wrong = operations().flatMap(({ route, op }) =>
        Object.entries(op.responses)
          .filter(([status]) => Number(status) >= 400)
          .filter(([, r]) => Object.keys(r.content ?? {}).join() !== 'application/problem+json')
          .map(([status]) => `${route} ${status}`),
      );
      expect(wrong).toEqual([]);
      expect(doc.components.schemas.Problem.properties.code.enum.sort()).toEqual(
        Object.keys(ERROR_CATALOG).sort(),
      );
    });

    it('lists what any route can answer: 404 for a record, 400, 413 and 415 for input, 503 with Retry-After', () => {
      const missing = operations().flatMap(({ route, path, op }) => {
        const out: string[] = [];
        if (path.includes('{') && !op.responses['404']) out.push(`${route} 404`);
        // Every route: a query string with a NUL, a malformed JSON body (even where none is declared).
        if (!op.responses['400']) out.push(`${route} 400`);
        // Every method (a GET or DELETE sent with a body is parsed too): one too large, or not JSON.
        // Every route: an If-Match (412 where it is not made conditional on a version).
        for (const status of ['412', '413', '415']) if (!op.responses[status]) out.push(`${route} ${status}`);
        if (!op.responses['503']?.headers || !('Retry-After' in op.responses['503'].headers))
          out.push(`${route} 503`);
        return out;
      });
      expect(missing).toEqual([]);
    });

    it('lists a 403 only where one can come: not on the session’s own routes, whose rules every session holds', () => {
      const forbidden = (route: string) => {
        const [method, path] = route.split(' ');
        return doc.paths[path][method.toLowerCase()].responses['403'] as { description: string } | undefined;
      };
      for (const route of [
        'GET /api/v1/auth/me',
        'POST /api/v1/auth/logout',
        'POST /api/v1/auth/totp/enroll',
      ])
        expect([route, forbidden(route)]).toEqual([route, undefined]);
      // A re-authentication's refusal is one, described as such (not as a restricted session's).
      for (const route of [
        'POST /api/v1/auth/password',
        'POST /api/v1/auth/step-up',
        'POST /api/v1/auth/totp/verify',
      ]) {
        expect(forbidden(route)?.description).toMatch(/auth\.reauthentication_failed/);
        expect(forbidden(route)?.description).not.toMatch(/restricted session/);
      }
      expect(forbidden('GET /api/v1/cases')?.description).toMatch(/restricted session/);
    });

    it('marks as required the fields an answer always carries, null or not', () => {
      const required = (schema: string) => (doc.components.schemas[schema].required ?? []) as string[];
      expect(required('ReferralView')).toEqual(
        expect.arrayContaining([
          'acceptedAt',
          'declinedAt',
          'completedAt',
          'revokedAt',
          'outcome',
          'servicesDelivered',
          'revokeCause',
        ]),
      );
      expect(required('ConsentView')).toEqual(
        expect.arrayContaining([
          'organizationId',
          'sector',
          'givenBy',
          'legalBasis',
          'expiresAt',
          'withdrawnAt',
        ]),
      );
      expect(required('NoteView')).toContain('organizationId');
      // A section's field is there only when given: none is required (but the survivor's sex, always shown).
      expect(required('SurvivorView')).toEqual(['sex']);
      expect(required('PerpetratorView')).toEqual([]);
    });

    it("marks as nullable a case section's fields that null clears, and not those that cannot be cleared", () => {
      type Props = Record<string, { nullable?: boolean; $ref?: string }>;
      const props = (schema: string) => doc.components.schemas[schema].properties as Props;
      for (const schema of ['SurvivorPatchDto', 'SurvivorDto']) {
        expect([props(schema).phone.nullable, props(schema).dateOfBirth.nullable]).toEqual([true, true]);
        // The name and sex are required: null is refused (400), as the README says.
        expect([props(schema).fullName.nullable, props(schema).sex.nullable]).toEqual([undefined, undefined]);
      }
      expect([
        props('IncidentPatchDto').narrative.nullable,
        props('IncidentPatchDto').gbvType.nullable,
      ]).toEqual([true, undefined]);
      expect(props('PerpetratorDto').relationship.nullable).toBe(true);
      // No property beside a $ref carries it (OpenAPI 3.0 ignores siblings of a $ref).
      const refsMarked = Object.values(doc.components.schemas).flatMap((schema) =>
        Object.values((schema as { properties?: Props }).properties ?? {}).filter(
          (p) => p.$ref !== undefined && p.nullable !== undefined,
        ),
      );
      expect(refsMarked).toEqual([]);
    });

    it('states the bounds validation holds a request to: pages, years, ids', () => {
      type Param = { name: string; in: string; schema?: { maximum?: number; minimum?: number } };
      const param = (path: string, name: string) =>
        (doc.paths[path].get.parameters as Param[] | undefined)?.find((p) => p.name === name)?.schema;
      expect(param('/api/v1/cases', 'page')).toMatchObject({ minimum: 1, maximum: 1_000_000 });
      expect(param('/api/v1/reports/action-month', 'year')).toMatchObject({ maximum: 2100 });
      const { schemas } = doc.components;
      expect(schemas.CreateReferralDto.properties.organizationId.format).toBe('uuid');
      expect(schemas.CreateReferralDto.properties.consentId.format).toBe('uuid');
      expect(schemas.CreateConsentDto.properties.organizationId.format).toBe('uuid');
    });

    it("states each validator's constraint on its field, as the validator holds it (none missing, none different)", async () => {
      // Every body class in the document, property by property, its inherited fields and a PartialType's copies
      // included: what class-validator checks (schemaOf) must be said by the schema with the same value, for the
      // field or, for a list checked item by item, its items. The classes: every class the DTO modules export,
      // and every class class-validator holds decorators for, by the name the document gives its schema.
      const storage = getMetadataStorage() as unknown as {
        validationMetadatas: Map<new () => object, ValidationMetadata[]>;
      };
      const classes = new Map<string, new () => object>();
      for (const target of storage.validationMetadatas.keys()) classes.set(target.name, target);
      const dtoModules = (dir: string): string[] =>
        readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
          e.isDirectory()
            ? dtoModules(join(dir, e.name))
            : /\.dto\.ts$/.test(e.name)
              ? [join(dir, e.name)]
              : [],
        );
      for (const file of dtoModules(join(__dirname, '..', 'src'))) {
        for (const value of Object.values((await import(file)) as Record<string, unknown>)) {
          if (typeof value === 'function' && value.name) classes.set(value.name, value as new () => object);
        }
      }
      const bodies = [...classes].filter(([name]) => doc.components.schemas[name]);
      const metadataOf = (cls: new () => object) =>
        getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false);
      const wrong: string[] = [];
      let checked = 0;
      for (const [name, cls] of bodies) {
        const schema = doc.components.schemas[name] as {
          properties: Record<string, Record<string, unknown>>;
        };
        for (const m of metadataOf(cls)) {
          const want = schemaOf(m.name, m.type, m.constraints);
          const property = schema.properties[m.propertyName];
          if (!want || !property) continue;
          const said = m.each ? ((property.items ?? {}) as Record<string, unknown>) : property;
          for (const [key, value] of Object.entries(want)) {
            checked++;
            if (JSON.stringify(said[key]) !== JSON.stringify(value))
              wrong.push(
                `${name}.${m.propertyName}${m.each ? '[]' : ''} ${key}: ${JSON.stringify(said[key])} ≠ ${JSON.stringify(value)}`,
              );
          }
        }
      }
      expect(wrong).toEqual([]);
      expect(checked).toBeGreaterThan(100);
      // The patch bodies (PartialType's copies) and an inherited field are among them.
      expect(bodies.map(([name]) => name)).toEqual(
        expect.arrayContaining(['SurvivorPatchDto', 'IncidentPatchDto', 'ChangePasswordDto']),
      );
      // And a field is required in the document exactly when validation requires it (no @IsOptional, no
      // condition of its own: ValidateIf, or optional-but-not-null).
      const requiredWrong: string[] = [];
      for (const [name, cls] of bodies) {
        const schema = doc.components.schemas[name] as {
          properties: Record<string, unknown>;
          required?: string[];
        };
        const metadatas = metadataOf(cls);
        for (const property of new Set(metadatas.map((m) => m.propertyName))) {
          if (!schema.properties[property]) continue;
          const optional = metadatas.some(
            (m) => m.propertyName === property && m.type === ValidationTypes.CONDITIONAL_VALIDATION,
          );
          if (optional === (schema.required ?? []).includes(property))
            requiredWrong.push(`${name}.${property} ${optional ? 'optional' : 'required'}`);
        }
      }
      expect(requiredWrong).toEqual([]);
      // Query strings too: their parameters come from the same classes.
      type Param = { name: string; schema?: Record<string, unknown>; items?: unknown };
      const param = (path: string, name: string) =>
        (doc.paths[path].get.parameters as unknown as Param[]).find((p) => p.name === name)?.schema;
      expect(param('/api/v1/reports/summary', 'province')).toMatchObject({ pattern: '^\\d{2}$' });
      expect(param('/api/v1/admin-units', 'province')).toMatchObject({ pattern: '^\\d{2}$' });
      // Lists say their size, uniqueness and each item's form.
      expect(doc.components.schemas.CreateUserDto.properties.wardCodes).toMatchObject({
        type: 'array',
        minItems: 1,
        maxItems: 50,
        uniqueItems: true,
        items: { type: 'string', pattern: '^\\d{5}$' },
      });
    });

    it('requires no header parameter (If-Match is optional: the version may come in the body)', () => {
      const required = operations().flatMap(({ route, op }) =>
        (op.parameters ?? [])
          .filter((p) => p.in === 'header' && (p as { required?: boolean }).required)
          .map((p) => `${route} ${(p as { name?: string }).name}`),
      );
      expect(required).toEqual([]);
    });

    it('says what every successful answer carries (a schema, unless it is 204 No Content)', () => {
      const bare = operations().flatMap(({ route, op }) =>
        Object.entries(op.responses)
          .filter(([status]) => status.startsWith('2') && status !== '204')
          .filter(([, r]) => {
            const schema = r.content?.['application/json']?.schema as
              { $ref?: string; type?: string; properties?: object; items?: object } | undefined;
            if (!schema) return true;
            if (schema.$ref) {
              const named = doc.components.schemas[schema.$ref.split('/').pop()!];
              return !named?.properties || Object.keys(named.properties).length === 0;
            }
            return !schema.type;
          })
          .map(([status]) => `${route} ${status}`),
      );
      const silent = operations()
        .filter(({ op }) => !Object.keys(op.responses).some((status) => status.startsWith('2')))
        .map(({ route }) => `${route} 2xx`);
      expect([...bare, ...silent]).toEqual([]);
    });
  });
});
