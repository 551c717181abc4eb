/** Unit tests run in parallel workers; integration tests share one host and run serially (package.json "test"). */
const tsJest = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'test/tsconfig.json' }] };
module.exports = {
  projects: [
    {
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      transform: tsJest,
      testEnvironment: 'node',
    },
    {
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      transform: tsJest,
      testEnvironment: 'node',
      slowTestThreshold: 30,
    },
  ],
};
