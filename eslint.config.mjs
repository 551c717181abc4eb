// ESLint with typescript-eslint's type-checked rules over src/ and test/ (npm run lint; .ci/run runs it too).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['lib/**', 'dist/**', 'node_modules/**', 'native/**', 'coverage/**', 'bin/**', 'src/host/gen/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      // an async function may have nothing to await yet satisfy a Promise-returning contract (a fault's check)
      '@typescript-eslint/require-await': 'off',
      // prettier wraps code at 120; what it cannot wrap (comments) is held to 120 here; long messages stay whole
      'max-len': [
        'error',
        { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    // the tests read JSON replies and stored rows freely (expect checks them): the no-unsafe-* family is for src/.
    // In src/ every file is typed (journal steps, the HTTP schema, the runtime clients): no exemption there.
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // plain CommonJS scripts and configs: no type information, Node globals
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        console: 'readonly',
        __dirname: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        setInterval: 'readonly',
        clearTimeout: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
      'max-len': [
        'error',
        { code: 120, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true, ignoreUrls: true },
      ],
    },
  },
  {
    // src/ loads modules with import, or on first use with lazy(() => require('…')) (src/util/lazy.ts; the fault
    // registry's lazyFault likewise): no other require() (a one-off says why in an eslint-disable comment)
    files: ['src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "CallExpression[callee.name='require']:not(CallExpression[callee.name=/^lazy/] > ArrowFunctionExpression > CallExpression)",
          message: "import the module, or load it on first use with lazy(() => require('…')) (src/util/lazy.ts)",
        },
      ],
    },
  },
  { files: ['eslint.config.mjs'], languageOptions: { sourceType: 'module' } },
);
