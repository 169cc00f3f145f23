import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import express, { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { AppModule, AppModuleOptions } from './app.module';
import { CaseRederivation } from './cases/case-rederivation.service';
import { AuditCheckpointService } from './audit/audit-checkpoint.service';
import { DomainError } from './common/errors/domain-error';
import { Problem, ProblemFieldError } from './common/errors/problem';
import { ProblemFilter } from './common/errors/problem.filter';
import { HandlersInFlight } from './common/http/handlers-in-flight';
import { annotateBounds, declarePublicFieldNames } from './common/errors/validation-errors';
import { HavenValidationPipe } from './common/http/validation.pipe';
import { jsonShapeMiddleware } from './common/http/json-shape.middleware';
import { jsonOnlyMiddleware } from './common/http/json-only.middleware';
import { requestContextMiddleware } from './common/http/request-context';
import { completeProblemResponses, publicFieldNames } from './common/http/openapi-problems';
import { documentValidationConstraints } from './common/http/openapi-constraints';
import { createHttpLogger } from './common/logging/http-logger';
import { PinoNestLogger } from './common/logging/logger';
import type { AppConfig } from './config/config';

export const API_PREFIX = 'api/v1';

const handlersOfApp = new WeakMap<NestExpressApplication, HandlersInFlight>();

/** The requests an app made by createHavenApp is handling now: a stop waits for them (main.ts). */
export function handlersInFlightOf(app: NestExpressApplication): HandlersInFlight {
  const handlers = handlersOfApp.get(app);
  if (!handlers) throw new Error('not an app made by createHavenApp');
  return handlers;
}

/**
 * Builds the whole application exactly as production runs it (pipes, filters, body limits, docs); main.ts
 * and the end-to-end tests both use it.
 */
export async function createHavenApp(
  config: AppConfig,
  logger: Logger,
  databaseUrl: string,
  extraImports: AppModuleOptions['extraImports'] = [],
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot({ config, logger, databaseUrl, extraImports }),
    {
      bodyParser: false,
      logger: new PinoNestLogger(logger.child({ component: 'nest' })),
      abortOnError: false,
    },
  );
  const problems = new ProblemFilter(logger);
  const handlers = new HandlersInFlight();
  handlersOfApp.set(app, handlers);

  app.disable('x-powered-by');
  // Express's ETag is a hash of the body (a case's content): not sent, as nothing here is for caches to keep.
  app.set('etag', false);
  // The client address (access log, sign-in throttle) is the socket's peer, unless HAVEN_TRUST_PROXY names the
  // load balancers whose X-Forwarded-For is believed (docs/deployment.md). Never "every address".
  app.set('trust proxy', config.trustProxy.length > 0 ? [...config.trustProxy] : false);
  app.use(handlers.track);
  app.use(requestContextMiddleware);
  app.use(createHttpLogger(logger));
  // The API serves JSON, which loads nothing: its answers allow nothing. Only Swagger UI (/docs) needs
  // scripts, inline ones included, and styles of its own origin.
  const hardened = (useDefaults: boolean, directives: Record<string, string[]>) =>
    helmet({
      contentSecurityPolicy: { useDefaults, directives: { ...directives, frameAncestors: ["'none'"] } },
      crossOriginResourcePolicy: { policy: 'same-origin' },
    });
  const api = hardened(false, { defaultSrc: ["'none'"] });
  const docs = hardened(true, {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'", "'unsafe-inline'"],
    styleSrc: ["'self'", "'unsafe-inline'"],
    imgSrc: ["'self'", 'data:'],
  });
  // Express matches routes in any letter case: /DOCS is the documentation page too.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const path = req.path.toLowerCase();
    (path === '/docs' || path.startsWith('/docs/') ? docs : api)(req, res, next);
  });
  // Nothing Haven answers may be kept by a browser or a proxy cache: case data, tokens and the log alike.
  app.use((_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  // No cross-origin access unless HAVEN_CORS_ORIGINS lists the origins (exact matches).
  if (config.corsOrigins.length > 0) {
    app.enableCors({
      origin: [...config.corsOrigins],
      credentials: false,
      maxAge: 600,
      // What a browser client needs to read of an answer: when to try again (429, 503), the request's id (to
      // quote it), the scheme to sign in with (401), a CSV's file name.
      exposedHeaders: ['Retry-After', 'X-Request-Id', 'WWW-Authenticate', 'Content-Disposition'],
    });
  }
  // HEAD is no method of the API: Express answers it with a GET route's handler, whose guards, decryption and
  // access-log entry would run for headers alone (a read of a survivor's identity on record that disclosed
  // nothing, a verification or a checkpoint's signature for nothing). Answered as a method of no route.
  app.use(`/${API_PREFIX}`, (req: Request, res: Response, next: NextFunction) =>
    req.method === 'HEAD' ? problems.respond(new DomainError('route.not_found'), req, res) : next(),
  );
  app.use(jsonOnlyMiddleware);
  app.use(
    express.json({
      limit: config.bodyLimitBytes,
      strict: true,
      type: ['application/json', 'application/*+json'],
    }),
  );
  app.use(jsonShapeMiddleware);
  // Errors raised before Nest routing (unparseable JSON, a body over the limit, wrong media type).
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) =>
    problems.respond(err, req, res),
  );

  app.setGlobalPrefix(API_PREFIX, { exclude: ['health'] });
  app.useGlobalFilters(problems);
  app.useGlobalPipes(new HavenValidationPipe());

  documentValidationConstraints();
  annotateBounds();
  const document = completeProblemResponses(
    SwaggerModule.createDocument(
      app,
      new DocumentBuilder()
        .setTitle('Haven API')
        .setDescription(
          'Confidential case-referral backend for gender-based violence. Errors are RFC 9457 problem details ' +
            `(application/problem+json). Request bodies are JSON only, at most ${config.bodyLimitBytes / 1024} KiB ` +
            '(413 above). No survivor data is ever sent in a URL: searches are POSTs.',
        )
        .setVersion('1')
        .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
        .build(),
      { extraModels: [Problem, ProblemFieldError] },
    ),
  );
  // The names its schemas and parameters show are public: a problem may name them (validation-errors.ts).
  declarePublicFieldNames(publicFieldNames(document));
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', raw: ['json'] });

  try {
    await app.init();
  } catch (e) {
    // A check that refuses to start (a ConfigError) must not leave the database pool open behind it.
    await app.close().catch(() => undefined);
    throw e;
  }
  // The service's own background work, not every context of the module (users:create-admin boots it too).
  await app.get(AuditCheckpointService).startIssuing();
  app.get(CaseRederivation).start();
  // Nest answers unknown paths under the API prefix; this answers everything else, last in the chain.
  app.use((req: Request, res: Response) => problems.respond(new DomainError('route.not_found'), req, res));
  return app;
}
