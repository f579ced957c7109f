/**
 * Generates the relay frame TypeScript (`lib/relay/gen/`) from `proto/` with buf and
 * protoc-gen-es. The output is committed; run `deno task gen` after editing a `.proto`.
 *
 * The buf template is passed inline so the repository needs no extra config file, and the
 * plugin runs through Deno so nothing has to be installed globally.
 *
 * @example
 * ```sh
 * deno task gen
 * ```
 * @module
 */

/** buf release known to work under Deno here (1.75.0 fails). */
const BUF = "npm:@bufbuild/buf@1.74.0";
/** Must match the `@bufbuild/protobuf` runtime version in deno.json. */
const PROTOC_GEN_ES = "npm:@bufbuild/protoc-gen-es@2.17.0";
const OUT = "lib/relay/gen";

const root = new URL("..", import.meta.url).pathname;

const template = {
  version: "v2",
  plugins: [{
    local: [Deno.execPath(), "run", "-A", "--quiet", PROTOC_GEN_ES],
    out: OUT,
    // Deno resolves relative imports only with their extension.
    opt: ["target=ts", "import_extension=ts"],
  }],
};

await Deno.remove(`${root}${OUT}`, { recursive: true }).catch((error) => {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
});

const buf = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", "--quiet", BUF, "generate", "proto", "--template", JSON.stringify(template)],
  cwd: root,
  stdout: "inherit",
  stderr: "inherit",
});
const { code } = await buf.output();
if (code !== 0) {
  console.error(`gen: buf generate failed with exit code ${code}`);
  Deno.exit(code);
}
console.error(`gen: wrote ${OUT}/`);
