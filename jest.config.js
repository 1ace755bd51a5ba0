// Jest runs the TypeScript sources as native ES modules through SWC (fast, decorator metadata kept).
// Unit tests sit next to the pure core in src/; integration and end-to-end tests live in test/.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['@swc/jest'],
    // @fastify/static (served /docs) is CommonJS but requires the ESM-only content-disposition;
    // Node 20 cannot require ESM, so Jest compiles that one package to CommonJS.
    'node_modules/content-disposition/.+\\.js$': ['@swc/jest', { module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!content-disposition/)'],
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.mjs',
  testTimeout: 30000,
  // One test file at a time (`npm test` passes --maxWorkers=1: the files share one database and
  // Redis), in a worker process that is replaced once it holds more than this after a file. Each
  // file loads the whole application again, and in one long-lived process the heap grew past 4 GB
  // by the end of a run (one CI run died of it at the default heap size).
  workerIdleMemoryLimit: '1.5GB',
};
