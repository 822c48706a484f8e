import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['dist/**', 'node_modules/**', '.rps/**', 'coverage/**', 'airflow_dags/**', 'data/**', 'reports/**', 'build/**']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
      'no-console': 'off',
    },
  },
  {
    // Tests read --json output whose shape each assertion pins down.
    files: ['test/**/*.ts'],
    rules: {'@typescript-eslint/no-explicit-any': 'off'},
  },
  {
    files: ['bin/**/*.js', 'scripts/**/*.js', 'eslint.config.js', 'test/**/*.cjs', '.dependency-cruiser.cjs'],
    languageOptions: {globals: {process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable'}},
    rules: {'@typescript-eslint/no-require-imports': 'off'},
  },
)
