// Bundles the frontend with esbuild.
//   node js/build.mjs            js/widget.ts → camwidget/static/widget.js (+ copies widget.css),
//                                js/campaign.ts → camwidget/static/campaign.js (a campaign's view)
//   node js/build.mjs --watch    the same, rebuilding on change
//   node js/build.mjs --test     bundles js/tests/*.test.ts to a temp dir and runs node's test runner
import * as esbuild from "esbuild";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const outdir = join(root, "camwidget", "static");
const args = new Set(process.argv.slice(2));

const widget = {
  entryPoints: [join(here, "widget.ts")],
  bundle: true,
  format: "esm",
  target: "es2020",
  outfile: join(outdir, "widget.js"),
  minify: !args.has("--watch"),
  sourcemap: args.has("--watch") ? "inline" : false,
  logLevel: "warning",
  plugins: [
    {
      name: "copy-css",
      setup(build) {
        build.onEnd(() => copyFileSync(join(here, "widget.css"), join(outdir, "widget.css")));
      },
    },
  ],
};

// A labelling campaign's view: the reveal game of js/reveal.ts with the campaign's controls.
const campaign = { ...widget, entryPoints: [join(here, "campaign.ts")], outfile: join(outdir, "campaign.js"), plugins: [] };

mkdirSync(outdir, { recursive: true });
if (args.has("--test")) {
  // Inside node_modules/ (git-ignored) so the bundles resolve their external packages from there.
  const cache = join(root, "node_modules", ".cache");
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, "camwidget-jstest-"));
  try {
    const tests = readdirSync(join(here, "tests")).filter((f) => f.endsWith(".test.ts"));
    await esbuild.build({
      entryPoints: tests.map((f) => join(here, "tests", f)),
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      outdir: dir,
      outExtension: { ".js": ".mjs" },
      packages: "external",
      logLevel: "warning",
    });
    const files = readdirSync(dir).filter((f) => f.endsWith(".mjs")).map((f) => join(dir, f));
    const r = spawnSync(process.execPath, ["--test", ...files], { stdio: "inherit", cwd: root });
    process.exitCode = r.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
} else if (args.has("--watch")) {
  for (const options of [widget, campaign]) await (await esbuild.context(options)).watch();
  console.log("watching js/ …");
} else {
  await Promise.all([esbuild.build(widget), esbuild.build(campaign)]);
}
