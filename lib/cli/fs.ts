/**
 * `fs`: file operations on an exec-server (`ls`, `stat`, `cat`, `get`, `put`, `rm`, `mkdir`,
 * `cp`). Downloads stream in blocks; uploads are bounded by the protocol (one message).
 * @module
 */
import { basename, dirname, posix } from "node:path";
import { pathFromUri } from "../protocol/file_uri.ts";
import { Method } from "../protocol/methods.ts";
import { type ExecServerClient, MAX_WRITE_FILE_BYTES, RemoteCallError } from "../client/mod.ts";
import { parseFlags, UsageError } from "./_args.ts";
import { ProgressBar } from "./_progress.ts";
import { BROKEN_PIPE_EXIT, INTERRUPTED_EXIT } from "./_exec_session.ts";
import { didYouMean } from "./_suggest.ts";
import { connectWithFlags, describeClientError, TARGET_OPTIONS, TARGET_USAGE } from "./_target.ts";
import { writeAll } from "./_terminal.ts";

/**
 * Help text of `fs`.
 *
 * @example
 * ```ts
 * console.log(FS_USAGE);
 * ```
 */
export const FS_USAGE = `Usage: codex-exec-server fs COMMAND [options] ARGS...

File operations on an exec-server. Remote paths are absolute, or relative to the server's
working directory.

Commands:
  ls [PATH]                  list a directory (names; directories end in /)
  stat PATH                  type, size and times (--json for the raw metadata)
  cat PATH...                write remote files to stdout
  get REMOTE [LOCAL]         download (LOCAL: a file, a directory, or - for stdout; default: the
                             remote name in the current directory), streamed in 1 MiB blocks
  put LOCAL REMOTE           upload (REMOTE may be a directory), streamed in 1 MiB blocks when
                             the server has fileWriteStreaming (any size, constant memory);
                             otherwise one fs/writeFile message of at most ${MAX_WRITE_FILE_BYTES} bytes
  rm [-r] [-f] PATH...       remove (-r: directories too; -f: a missing path is fine)
  mkdir [-p] PATH...         create a directory (-p: parents too, existing is fine)
  cp [-r] SRC DST            copy on the server (-r for directories)

${TARGET_USAGE}
Options:
  -r, --recursive   -f, --force   -p, --parents   --json
  -q, --quiet       no progress bar (it is drawn only when stderr is a terminal anyway)
  -h, --help        show this help
`;

interface FsFlags {
  recursive?: boolean;
  force?: boolean;
  parents?: boolean;
  json?: boolean;
  quiet?: boolean;
}

const encoder = new TextEncoder();

/** A failure of the operation itself (not of the command line): exit 1, no usage hint. */
class FsCommandError extends Error {
  readonly code = "fs_command";
}

/**
 * Runs `fs` and returns the exit code (0 ok, 1 failed, 2 usage).
 *
 * @example
 * ```ts
 * await runFs(["ls", "--url", "ws://127.0.0.1:4000", "/tmp"]);
 * ```
 */
export async function runFs(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags({
    args,
    options: {
      ...TARGET_OPTIONS,
      recursive: { type: "boolean", short: "r" },
      force: { type: "boolean", short: "f" },
      parents: { type: "boolean", short: "p" },
      json: { type: "boolean" },
      quiet: { type: "boolean", short: "q" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help || positionals.length === 0) {
    console.log(FS_USAGE);
    return values.help ? 0 : 2;
  }
  const [command, ...operands] = positionals;
  const handler = HANDLERS[command];
  if (!handler) {
    throw new UsageError(
      `unknown fs command \`${command}\`${didYouMean(command, Object.keys(HANDLERS))}`,
    );
  }
  if (values.recursive && (command === "get" || command === "put")) {
    throw new UsageError(
      `fs ${command} copies one file; -r is for rm and cp. For a folder, stream a tar through ` +
        "exec, e.g. `exec [server flags] -- tar c -C /remote/dir . | tar x`",
    );
  }
  checkArity(command, operands.length);
  let client: ExecServerClient;
  try {
    client = await connectWithFlags(values);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    console.error(describeClientError(err, { registry: Boolean(values.registry) }));
    return 1;
  }
  const ctx = new FsContext(client, values);
  try {
    await handler(ctx, operands);
    if (command === "put") await keepExecutableBit(ctx, operands[0]);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    // `fs cat ... | head`: the reader is done with us; exit quietly, as for SIGPIPE.
    if (err instanceof Deno.errors.BrokenPipe) return BROKEN_PIPE_EXIT;
    const parent = missingParentMessage(command, ctx, err);
    if (parent) {
      console.error(`error: ${parent}`);
      return 1;
    }
    console.error(
      err instanceof FsCommandError
        ? `error: ${err.message}`
        : describeClientError(err, { path: ctx.currentPath, registry: Boolean(values.registry) }),
    );
    return 1;
  } finally {
    await client.close();
  }
}

/** The protocol carries no file mode: `get`/`put` ask a remote shell (best effort; -1 = failed). */
async function remoteShell(ctx: FsContext, script: string, path: string): Promise<number> {
  try {
    const proc = await ctx.client.start(["sh", "-c", script, "sh", path], {
      pipeStdin: false,
      envPolicy: {
        inherit: "all",
        ignoreDefaultExcludes: false,
        exclude: [],
        set: {},
        includeOnly: [],
      },
    });
    for await (const _ of proc) {
      // nothing to show
    }
    return await proc.wait();
  } catch {
    return -1;
  }
}

/** After `put`: an executable local file is made executable on the server too (`chmod +x`). */
async function keepExecutableBit(ctx: FsContext, local: string): Promise<void> {
  const mode = (await Deno.stat(local)).mode ?? 0;
  if ((mode & 0o111) === 0 || !ctx.currentPath) return;
  await remoteShell(ctx, 'chmod +x "$1"', ctx.currentPath);
}

/**
 * For a remote "not found" while creating (`mkdir` without `-p`, `put`): says which parent is
 * missing and how to create it, since the path itself is the one that is meant to be new.
 */
function missingParentMessage(command: string, ctx: FsContext, err: unknown): string | undefined {
  if (!(err instanceof RemoteCallError) || !err.notFound || !ctx.currentPath) return undefined;
  const parent = posix.dirname(ctx.currentPath);
  if (command === "mkdir" && !ctx.flags.parents) {
    return `cannot create ${ctx.currentPath}: its parent ${parent} does not exist; use ` +
      "`fs mkdir -p` to create the parents too";
  }
  if (command === "put" && (err.method === Method.fsWriteFile || err.method === Method.fsOpen)) {
    return `cannot write ${ctx.currentPath}: the remote folder ${parent} does not exist; ` +
      `create it first with \`fs mkdir -p ${parent}\``;
  }
  return undefined;
}

const ARITY: Record<string, [number, number]> = {
  ls: [0, 1],
  stat: [1, 1],
  cat: [1, Infinity],
  get: [1, 2],
  put: [2, 2],
  rm: [1, Infinity],
  mkdir: [1, Infinity],
  cp: [2, 2],
};

function checkArity(command: string, count: number): void {
  const [min, max] = ARITY[command];
  if (count < min || count > max) {
    throw new UsageError(
      `fs ${command} takes ${min === max ? min : `${min} to ${max === Infinity ? "more" : max}`} ` +
        `path${max === 1 ? "" : "s"}, got ${count}`,
    );
  }
}

class FsContext {
  readonly client: ExecServerClient;
  readonly flags: FsFlags;
  /** The remote path being worked on, for error messages. */
  currentPath: string | undefined;

  constructor(client: ExecServerClient, flags: FsFlags) {
    this.client = client;
    this.flags = flags;
  }

  /** Resolves a remote path against the server's working directory. */
  remote(path: string): string {
    let resolved = path;
    if (!path.startsWith("/") && !/^file:/i.test(path)) {
      const cwd = this.client.environmentInfo?.cwd;
      if (!cwd) {
        throw new UsageError(
          `remote path \`${path}\` is relative and the server did not say its working directory`,
        );
      }
      resolved = posix.join(pathFromUri(cwd), path);
    } else if (/^file:/i.test(path)) {
      resolved = pathFromUri(path);
    }
    this.currentPath = resolved;
    return resolved;
  }

  progress(label: string, total?: number): ProgressBar {
    return new ProgressBar(label, { total, enabled: this.flags.quiet ? false : undefined });
  }
}

type Handler = (ctx: FsContext, operands: string[]) => Promise<void>;

async function print(text: string): Promise<void> {
  await writeAll(Deno.stdout, encoder.encode(text));
}

const HANDLERS: Record<string, Handler> = {
  async ls(ctx, [path]) {
    const dir = ctx.remote(path ?? ".");
    const entries = await ctx.client.readDirectory(dir);
    entries.sort((a, b) => a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0);
    if (ctx.flags.json) return await print(JSON.stringify(entries, null, 2) + "\n");
    await print(entries.map((e) => e.fileName + (e.isDirectory ? "/" : "") + "\n").join(""));
  },

  async stat(ctx, [path]) {
    const target = ctx.remote(path);
    const meta = await ctx.client.stat(target);
    if (ctx.flags.json) return await print(JSON.stringify(meta, null, 2) + "\n");
    const kind = meta.isDirectory ? "directory" : meta.isFile ? "file" : "other";
    const when = (ms: number) => ms > 0 ? new Date(ms).toISOString() : "unknown";
    await print(
      `path: ${target}\ntype: ${kind}${meta.isSymlink ? " (through a symlink)" : ""}\n` +
        (meta.size !== undefined ? `size: ${meta.size}\n` : "") +
        `modified: ${when(meta.modifiedAtMs)}\ncreated: ${when(meta.createdAtMs)}\n`,
    );
  },

  async cat(ctx, paths) {
    for (const path of paths) {
      const stream = ctx.client.readFileStream(ctx.remote(path));
      for await (const chunk of stream) await writeAll(Deno.stdout, chunk);
    }
  },

  async get(ctx, [remotePath, localArg]) {
    const source = ctx.remote(remotePath);
    const meta = await ctx.client.stat(source);
    if (meta.isDirectory) {
      throw new FsCommandError(`${source} is a directory; fs get copies single files`);
    }
    if (localArg === "-") {
      for await (const chunk of ctx.client.readFileStream(source)) {
        await writeAll(Deno.stdout, chunk);
      }
      return;
    }
    let local = localArg ?? basename(source);
    try {
      if ((await Deno.stat(local)).isDirectory) local = `${local}/${basename(source)}`;
    } catch {
      // a new file
    }
    // Download next to the target and rename at the end: a failed transfer leaves no
    // half-written file under the real name.
    const partial = `${local}.codex-part`;
    const bar = ctx.progress(`get ${basename(source)}`, meta.size);
    // Ctrl-C mid-download: no half file under either name is left behind. Listening before the
    // file exists, so that no moment has a partial file and no listener.
    let file: Deno.FsFile | undefined;
    const onInterrupt = () => {
      bar.finish();
      try {
        file?.close();
      } catch {
        // already closed
      }
      try {
        Deno.removeSync(partial);
      } catch {
        // never created, or already gone
      }
      console.error(`\nfs get: interrupted; removed the partial download ${partial}`);
      Deno.exit(INTERRUPTED_EXIT);
    };
    Deno.addSignalListener("SIGINT", onInterrupt);
    try {
      file = await Deno.open(partial, { write: true, create: true, truncate: true });
    } catch (err) {
      Deno.removeSignalListener("SIGINT", onInterrupt);
      if (err instanceof Deno.errors.NotFound) {
        throw new FsCommandError(
          `cannot write ${local}: the local folder ${dirname(local)} does not exist; create it ` +
            "first or pick another LOCAL path",
        );
      }
      throw new FsCommandError(`cannot write ${partial}: ${(err as Error).message}`);
    }
    try {
      for await (const chunk of ctx.client.readFileStream(source)) {
        await writeAll(file, chunk);
        bar.advance(chunk.length);
      }
      file.close();
      await Deno.rename(partial, local);
      // As scp and kubectl cp: an executable stays executable (where it was readable).
      if (await remoteShell(ctx, 'test -f "$1" && test -x "$1"', source) === 0) {
        const mode = (await Deno.stat(local)).mode ?? 0o644;
        await Deno.chmod(local, mode | ((mode & 0o444) >> 2));
      }
    } catch (err) {
      try {
        file.close();
      } catch {
        // already closed
      }
      await Deno.remove(partial).catch(() => {});
      throw err;
    } finally {
      Deno.removeSignalListener("SIGINT", onInterrupt);
      bar.finish();
    }
  },

  async put(ctx, [local, remotePath]) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(local);
    } catch (err) {
      throw new FsCommandError(`cannot read local file ${local}: ${(err as Error).message}`);
    }
    if (!info.isFile) throw new FsCommandError(`${local} is not a regular file`);
    let target = ctx.remote(remotePath);
    const remoteIsDir = remotePath.endsWith("/") ||
      await ctx.client.stat(target).then((m) => m.isDirectory, () => false);
    if (remoteIsDir) target = posix.join(target, basename(local));
    ctx.currentPath = target;
    if (ctx.client.hasCapability("fileWriteStreaming")) {
      const bar = ctx.progress(`put ${basename(local)}`, info.size);
      const file = await Deno.open(local);
      try {
        await ctx.client.writeFileStream(target, file.readable, {
          onProgress: (bytes) => bar.advance(bytes),
        });
      } finally {
        bar.finish();
      }
      return;
    }
    if (info.size > MAX_WRITE_FILE_BYTES) {
      throw new FsCommandError(
        `${local} is ${info.size} bytes, over the ${MAX_WRITE_FILE_BYTES}-byte upload limit: ` +
          `this server lacks fileWriteStreaming, so a file goes in a single fs/writeFile ` +
          `message. Stream it through a remote program instead:\n  ` +
          `codex-exec-server exec [server flags] -- sh -c 'cat > "$1"' sh ${target} < ${local}`,
      );
    }
    // Bounded by the limit above, so reading it whole is deliberate.
    const data = new Uint8Array(info.size);
    const bar = ctx.progress(`put ${basename(local)}`, info.size);
    const file = await Deno.open(local);
    try {
      let offset = 0;
      while (offset < data.length) {
        const n = await file.read(data.subarray(offset));
        if (n === null) break;
        offset += n;
      }
      await ctx.client.writeFile(target, data.subarray(0, offset));
      bar.advance(offset);
    } finally {
      file.close();
      bar.finish();
    }
  },

  async rm(ctx, paths) {
    for (const path of paths) {
      const target = ctx.remote(path);
      if (!ctx.flags.recursive) {
        const meta = await ctx.client.stat(target).catch((err) => {
          if (err instanceof RemoteCallError && err.notFound && ctx.flags.force) return null;
          throw err;
        });
        if (meta?.isDirectory && !meta.isSymlink) {
          throw new FsCommandError(`${target} is a directory; use fs rm -r`);
        }
      }
      await ctx.client.remove(target, {
        recursive: ctx.flags.recursive ?? false,
        force: ctx.flags.force ?? false,
      });
    }
  },

  async mkdir(ctx, paths) {
    for (const path of paths) {
      await ctx.client.createDirectory(ctx.remote(path), { recursive: ctx.flags.parents ?? false });
    }
  },

  async cp(ctx, [from, to]) {
    const source = ctx.remote(from);
    let destination = ctx.remote(to);
    // As cp(1): into an existing directory (or one named with a trailing slash).
    const intoDirectory = to.endsWith("/") ||
      await ctx.client.stat(destination).then((m) => m.isDirectory, () => false);
    if (intoDirectory) destination = posix.join(destination, posix.basename(source));
    ctx.currentPath = source;
    await ctx.client.copy(source, destination, { recursive: ctx.flags.recursive ?? false });
  },
};
