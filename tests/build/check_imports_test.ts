import { deepEqual as assertEquals } from "node:assert/strict";
import { checkImports } from "../../scripts/check_imports.ts";

Deno.test({
  timeout: 15_000,
  name: "import check: lib/ as committed has no import pointing up or sideways",
  async fn() {
    assertEquals(await checkImports("lib"), []);
  },
});

Deno.test({
  timeout: 15_000,
  name: "import check: a handler importing the server, or an unknown folder, is reported",
  async fn() {
    const root = await Deno.makeTempDir({ dir: Deno.cwd(), prefix: ".imports-" });
    try {
      const name = root.slice(Deno.cwd().length + 1);
      await Deno.mkdir(`${root}/fs`);
      await Deno.mkdir(`${root}/server`);
      await Deno.mkdir(`${root}/mystery`);
      await Deno.writeTextFile(`${root}/server/core.ts`, "export const x = 1;\n");
      await Deno.writeTextFile(
        `${root}/fs/methods.ts`,
        '/**\n * import { y } from "../server/core.ts";\n */\nimport { x } from "../server/core.ts";\n',
      );
      await Deno.writeTextFile(`${root}/mystery/a.ts`, 'import "../fs/methods.ts";\n');
      const found = (await checkImports(name)).map((v) =>
        `${v.file.slice(name.length)} ${v.reason}`
      )
        .sort();
      assertEquals(found, [
        "/fs/methods.ts fs (layer 5) may not import server (layer 6)",
        `/mystery/a.ts ${name}/mystery has no layer: add it to LAYERS in scripts/check_imports.ts`,
      ]);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
