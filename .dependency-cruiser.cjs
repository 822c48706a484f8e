// The import rule of src (docs/architecture.md): no cycles, src/lib in layers that import only
// their own layer or the ones below, nothing in src reaching into src/commands, test or bench.
// Run by `make lint`: npx depcruise src --config .dependency-cruiser.cjs --output-type err-long

// src/lib rooms, bottom to top. A layer may import its own rooms and every layer below it.
const LAYERS = [
  {name: 'base', rooms: ['errors\\.ts', 'util', 'config', 'stats', 'charts']},
  {name: 'data', rooms: ['sources', 'raw', 'quality', 'fetch', 'features', 'profile', 'dvc', 'mlflow']},
  {name: 'engine', rooms: ['forest']},
  {name: 'model', rooms: ['model']},
  {name: 'analysis', rooms: ['live', 'drift', 'simulate']},
  {name: 'edge', rooms: ['serve', 'storage', 'alerts', 'cli']},
]

const pathOf = (rooms) => `^src/lib/(${rooms.join('|')})(/|$)`

const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `lib-layer-${layer.name}`,
  comment: `src/lib ${layer.name} (${layer.rooms.join(', ').replaceAll('\\', '')}) imports only its own layer or lower ones, never ` +
    LAYERS.slice(i + 1).map((l) => l.name).join(', ') + ' (docs/architecture.md)',
  severity: 'error',
  from: {path: pathOf(layer.rooms)},
  to: {path: pathOf(LAYERS.slice(i + 1).flatMap((l) => l.rooms))},
}))

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle in src: move the shared function or type down to the lower module.',
      severity: 'error',
      from: {path: '^src/'},
      to: {circular: true},
    },
    ...layerRules,
    {
      name: 'forest-self-contained',
      comment: 'The forest engine (src/lib/forest) is pure computation: it imports nothing else of src/lib.',
      severity: 'error',
      from: {path: '^src/lib/forest/'},
      to: {path: '^src/lib/', pathNot: '^src/lib/forest/'},
    },
    {
      name: 'lib-not-in-layers',
      comment: 'Every src/lib room belongs to a layer: add a new room to LAYERS in .dependency-cruiser.cjs.',
      severity: 'error',
      from: {path: '^src/lib/', pathNot: pathOf(LAYERS.flatMap((l) => l.rooms))},
      to: {},
    },
    {
      name: 'lib-not-to-commands',
      comment: 'src/lib never imports a command: commands are the thin layer on top of it.',
      severity: 'error',
      from: {path: '^src/lib/'},
      to: {path: '^src/commands/'},
    },
    {
      name: 'src-not-to-test-or-bench',
      comment: 'Shipped code never imports tests, test support or benchmarks.',
      severity: 'error',
      from: {path: '^src/'},
      to: {path: '^(test|bench)/'},
    },
  ],
  options: {
    doNotFollow: {path: 'node_modules'},
    exclude: {path: '^(dist|node_modules)/'},
    // Type-only imports count: a cycle through `import type` is still a cycle between modules.
    tsPreCompilationDeps: true,
    tsConfig: {fileName: 'tsconfig.json'},
    enhancedResolveOptions: {exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default']},
    reporterOptions: {text: {highlightFocused: true}},
  },
}
