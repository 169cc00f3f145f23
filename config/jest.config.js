// Jest runs every test against one embedded PostgreSQL started by the global setup; each test file
// gets its own database cloned from a migrated template (see test/support/database.ts).
const ESM_ONLY = [
  '@nestjs',
  'otplib',
  '@otplib',
  '@noble',
  '@scure',
  'file-type',
  'strtok3',
  'token-types',
  'uint8array-extras',
  '@tokenizer',
  '@borewit',
  'load-esm',
  '@sindresorhus',
];

function swc(syntax) {
  return {
    swcrc: false,
    jsc: {
      parser: syntax === 'typescript' ? { syntax, decorators: true } : { syntax },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  };
}

/** @type {import('jest').Config} */
module.exports = {
  rootDir: '..',
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test', '<rootDir>/migrations'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', swc('typescript')],
    // NestJS 12 and a few of its dependencies ship ES modules only. Node 20 can require() them, but Jest's
    // module system cannot before Node 24.9, so they are compiled to CommonJS for the tests.
    '^.+\\.m?js$': ['@swc/jest', swc('ecmascript')],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'json'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  maxWorkers: 2,
  testTimeout: 30000,
};
