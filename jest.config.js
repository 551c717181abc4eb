/**
 * Unit tests run in parallel workers. Integration tests share one host and run one at a time, in lanes
 * (scripts/test-integration.sh): the VM suites change nothing on this host but use its CPU, so they run beside the
 * host suites that measure no CPU, rate or latency.
 */
const tsJest = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'test/tsconfig.json' }] };
// the VM lane's suites, as each declares in its docblock (@lane vm)
const { lanes } = require('./scripts/lanes');
const VM = Object.entries(lanes())
  .filter(([, lane]) => lane === 'vm')
  .map(([name]) => name);
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
      testPathIgnorePatterns: VM.map((n) => `/test/integration/${n}\\.test\\.ts$`),
      transform: tsJest,
      testEnvironment: 'node',
      slowTestThreshold: 30,
    },
    {
      displayName: 'vm',
      testMatch: VM.map((n) => `<rootDir>/test/integration/${n}.test.ts`),
      transform: tsJest,
      testEnvironment: 'node',
      slowTestThreshold: 30,
    },
  ],
};
