#!/usr/bin/env node
// `pnpm build`: the workspace → packages/cli/dist, the JavaScript every wharf process runs.
//
// One esbuild bundle for the `wharf` entry point, split into chunks (ESM code splitting) so a
// command loads only the modules it imports: `wharf --help` never reads the chunks holding
// fastify, grpc-js, dockerode or client-node. Why a bundle rather than tsc emit per package:
// the packages export their TypeScript sources (`./src/index.ts`) for tests and typecheck, a
// bundle needs no second export map for built output, and it carries only the modules that
// are reached, so the images need no node_modules beyond the few packages below.
//
// Files read at run time keep their place relative to the module that reads them: our modules
// find migrations, .proto files and the log page's assets from `import.meta.url`, which the
// build rewrites to the module's own repository path under dist/files/ (see sourceUrlPlugin),
// where DATA_DIRS are copied. Packages that read files beside their own modules (PGlite's wasm
// and data, the Swagger UI's static assets, anser's source for the log page) stay outside the
// bundle: they are copied with their dependencies into dist/node_modules, where chunks resolve them.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { SourceMapConsumer, SourceMapGenerator } from "source-map-js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cliDir = path.join(root, "packages/cli");
const outdir = path.join(cliDir, "dist");

/** Packages loaded from dist/node_modules instead of the bundle (see above), each with the
 * workspace package that depends on it (the copy is the version that package resolves). */
const EXTERNAL = {
  anser: "packages/log-viewer",
  "@electric-sql/pglite": "packages/db",
  "@fastify/swagger-ui": "packages/provisioner",
};

/** Folders of the repository that modules read at run time, copied to dist/files/<same path>. */
const DATA_DIRS = [
  "proto/wharf",
  "packages/cri/executor/proto",
  "packages/dev-sink/migrations",
  "packages/provisioner/migrations",
  "packages/relay/migrations",
  "packages/log-viewer/assets",
];

/**
 * Every output file sits in dist/ itself (no chunk folder), so `import.meta.url` of any chunk
 * is dist/<chunk>; a workspace module's own `import.meta.url` becomes the URL its source has
 * in dist/files/, and paths it builds from it (`../migrations`) land on the copied DATA_DIRS.
 */
const sourceUrlPlugin = {
  name: "source-url",
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const rel = path.relative(root, args.path);
      if (rel.startsWith("..") || rel.includes("node_modules") || rel === "packages/cli/src/bin.ts") return;
      const text = await fs.promises.readFile(args.path, "utf8");
      if (!text.includes("import.meta.url")) return;
      const url = `new URL(${JSON.stringify(`./files/${rel}`)}, import.meta.url).href`;
      return { contents: text.replaceAll("import.meta.url", url), loader: "ts" };
    });
  },
};

function revision() {
  try {
    const rev = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], {
      cwd: root,
      encoding: "utf8",
    }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
      cwd: root,
      encoding: "utf8",
    }).trim();
    return dirty ? `${rev}-dirty` : rev;
  } catch {
    return process.env.WHARF_REVISION ?? "unknown";
  }
}

const version = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).version;
const rev = process.env.WHARF_REVISION ?? revision();

fs.rmSync(outdir, { recursive: true, force: true });
const started = Date.now();
const result = await build({
  absWorkingDir: root,
  metafile: true,
  entryPoints: { wharf: path.join(cliDir, "src/bin.ts") },
  outdir,
  outExtension: { ".js": ".mjs" },
  chunkNames: "[name]-[hash]",
  plugins: [sourceUrlPlugin],
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: "linked",
  sourcesContent: false,
  legalComments: "none",
  // Smaller chunks parse faster and make smaller images; names kept for error classes and logs.
  minify: true,
  keepNames: true,
  logLevel: "warning",
  // ssh2's optional native crypto binding: loaded in a try/catch, pure JS otherwise.
  external: [...Object.keys(EXTERNAL), "*.node", "cpu-features"],
  // Bundled CommonJS modules call require() and read __dirname; ESM has neither.
  banner: {
    js: [
      'import { createRequire as __wharfCreateRequire } from "node:module";',
      'import { fileURLToPath as __wharfFileURLToPath } from "node:url";',
      "const require = __wharfCreateRequire(import.meta.url);",
      "const __filename = __wharfFileURLToPath(import.meta.url);",
      'const __dirname = __filename.slice(0, __filename.lastIndexOf("/"));',
    ].join("\n"),
  },
  define: {
    __WHARF_VERSION__: JSON.stringify(version),
    __WHARF_REVISION__: JSON.stringify(rev),
  },
});

/**
 * Keeps the source maps of our own modules only. Node parses a module's whole map when it loads
 * it (with source maps on); the mappings into node_modules were four fifths of them and cost an
 * idle worker ~4 MB. A frame in a library still shows its place in the chunk.
 */
function keepOwnMappings(mapFile) {
  const raw = JSON.parse(fs.readFileSync(mapFile, "utf8"));
  const consumer = new SourceMapConsumer(raw);
  const out = new SourceMapGenerator({ file: raw.file });
  consumer.eachMapping((m) => {
    if (!m.source || m.source.includes("/node_modules/")) return;
    out.addMapping({
      generated: { line: m.generatedLine, column: m.generatedColumn },
      original: { line: m.originalLine, column: m.originalColumn },
      source: m.source,
      ...(m.name ? { name: m.name } : {}),
    });
  });
  fs.writeFileSync(mapFile, out.toString());
}

/** Where `name`'s package.json is, resolved as the package in `fromDir` would. */
function manifestOf(name, fromDir) {
  const req = createRequire(path.join(fromDir, "package.json"));
  try {
    return req.resolve(`${name}/package.json`);
  } catch {
    // An exports map that hides package.json: walk up from the main module.
    let dir = path.dirname(req.resolve(name));
    while (!fs.existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir);
    return path.join(dir, "package.json");
  }
}

// Left out of copied packages: docs, types, maps, and PGlite's extension tarballs (none is loaded).
const SKIP = /(^|\/)node_modules(\/|$)|\.(md|map|d\.[cm]?ts|tar\.gz)$/;

/**
 * Copies `name` as `fromDir` resolves it, and what it depends on, into dist/node_modules:
 * flat, except a second version of a name, which goes under the package that needs it.
 */
function copyPackage(name, fromDir, dependentDest, placed) {
  const manifest = manifestOf(name, fromDir);
  const src = fs.realpathSync(path.dirname(manifest));
  const pkg = JSON.parse(fs.readFileSync(manifest, "utf8"));
  const flat = path.join(outdir, "node_modules", name);
  if (placed.get(flat) === src) return;
  const dest = placed.has(flat) ? path.join(dependentDest, "node_modules", name) : flat;
  placed.set(dest, src);
  fs.cpSync(src, dest, { recursive: true, filter: (p) => !SKIP.test(path.relative(src, p)) });
  for (const [dep, optional] of [
    ...Object.keys(pkg.dependencies ?? {}).map((d) => [d, false]),
    ...Object.keys(pkg.optionalDependencies ?? {}).map((d) => [d, true]),
  ]) {
    try {
      copyPackage(dep, src, dest, placed);
    } catch (err) {
      if (!optional) throw err;
    }
  }
}

// Which modules each output file holds (tests check what a command loads; not in the images).
const inputsOf = Object.fromEntries(
  Object.entries(result.metafile.outputs)
    .filter(([file]) => file.endsWith(".mjs"))
    .map(([file, out]) => [path.basename(file), Object.keys(out.inputs)]),
);
fs.writeFileSync(path.join(outdir, "modules.json"), JSON.stringify(inputsOf));
for (const file of fs.readdirSync(outdir))
  if (file.endsWith(".map")) keepOwnMappings(path.join(outdir, file));
for (const dir of DATA_DIRS)
  fs.cpSync(path.join(root, dir), path.join(outdir, "files", dir), { recursive: true });
const placed = new Map();
for (const [name, from] of Object.entries(EXTERNAL)) copyPackage(name, path.join(root, from), outdir, placed);
fs.writeFileSync(
  path.join(outdir, "package.json"),
  `${JSON.stringify({ name: "wharf", version, type: "module", private: true, revision: rev }, null, 2)}\n`,
);
console.log(`build: packages/cli/dist (wharf ${version}, ${rev}) in ${Date.now() - started} ms`);
