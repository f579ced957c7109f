/**
 * A scripted Responses-API model on 127.0.0.1 for driving the real Codex CLI in tests: each
 * `POST …/responses` takes the next scripted turn from a queue and streams it back as server-sent
 * events; every request body is recorded. Point Codex at it with a custom model provider in a
 * temporary `CODEX_HOME/config.toml` ({@link MockModel.codexConfig}).
 *
 * A turn is a list of output items; helpers build the common ones (shell call, apply_patch
 * custom-tool call, assistant message). When the queue is empty the mock answers with a short
 * assistant message, so a turn always ends.
 * @module
 */

/** One output item of a scripted response (a Responses-API `output` element). */
export type OutputItem = Record<string, unknown>;

/** A recorded request: the path and the parsed JSON body. */
export interface RecordedRequest {
  path: string;
  body: Record<string, unknown>;
}

/** Options of {@link MockModel.start}. */
export interface MockModelOptions {
  /** Scripted responses, consumed one per request. More can be added with `enqueue`. */
  responses?: OutputItem[][];
}

/** A running mock model server. */
export class MockModel implements AsyncDisposable {
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  readonly #queue: OutputItem[][];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  #responses = 0;

  private constructor(queue: OutputItem[][]) {
    this.#queue = queue;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (request) => this.#handle(request),
    );
  }

  /**
   * Starts the mock on an ephemeral loopback port.
   *
   * @example
   * ```ts
   * await using model = MockModel.start({ responses: [[assistantMessage("done")]] });
   * console.log(model.baseUrl); // http://127.0.0.1:PORT/v1
   * ```
   */
  static start(options: MockModelOptions = {}): MockModel {
    return new MockModel([...(options.responses ?? [])]);
  }

  /** The provider `base_url` (Codex appends `/responses`). */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.#server.addr.port}/v1`;
  }

  /** Adds a scripted response at the end of the queue. */
  enqueue(items: OutputItem[]): void {
    this.#queue.push(items);
  }

  /** Scripted responses not consumed yet. */
  get pending(): number {
    return this.#queue.length;
  }

  /**
   * A `config.toml` that makes Codex use this mock as its model provider.
   *
   * @example
   * ```ts
   * await Deno.writeTextFile(`${home}/config.toml`, model.codexConfig({ model: "gpt-5.5" }));
   * ```
   */
  codexConfig(options: { model?: string; extra?: string } = {}): string {
    return [
      `model = ${JSON.stringify(options.model ?? "gpt-5.5")}`,
      `model_provider = "mock"`,
      `approval_policy = "never"`,
      ``,
      `[model_providers.mock]`,
      `name = "mock"`,
      `base_url = ${JSON.stringify(this.baseUrl)}`,
      `wire_api = "responses"`,
      `request_max_retries = 0`,
      `stream_max_retries = 0`,
      options.extra ?? "",
    ].join("\n") + "\n";
  }

  async #handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (request.method !== "POST" || !path.endsWith("/responses")) {
      return new Response("not found", { status: 404 });
    }
    let body: Record<string, unknown> = {};
    try {
      body = await request.json();
    } catch {
      return new Response("bad json", { status: 400 });
    }
    this.requests.push({ path, body });
    const items = this.#queue.shift() ?? [assistantMessage("(mock model: script finished)")];
    const id = `resp_${++this.#responses}`;
    const events: Record<string, unknown>[] = [
      { type: "response.created", response: { id } },
      ...items.map((item, index) => ({
        type: "response.output_item.done",
        output_index: index,
        item,
      })),
      {
        type: "response.completed",
        response: {
          id,
          usage: {
            input_tokens: 0,
            input_tokens_details: null,
            output_tokens: 0,
            output_tokens_details: null,
            total_tokens: 0,
          },
        },
      },
    ];
    const text = events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("");
    return new Response(text, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
    });
  }

  /** Stops the server. */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

let counter = 0;
function nextId(prefix: string): string {
  return `${prefix}_${++counter}`;
}

/**
 * An assistant message item.
 *
 * @example
 * ```ts
 * model.enqueue([assistantMessage("All done.")]);
 * ```
 */
export function assistantMessage(text: string): OutputItem {
  return {
    type: "message",
    role: "assistant",
    id: nextId("msg"),
    content: [{ type: "output_text", text }],
  };
}

/**
 * A function-tool call item (`arguments` is JSON-encoded for the model's tool).
 *
 * @example
 * ```ts
 * model.enqueue([functionCall("exec_command", { cmd: "ls" })]);
 * ```
 */
export function functionCall(name: string, args: unknown, callId = nextId("call")): OutputItem {
  return { type: "function_call", call_id: callId, name, arguments: JSON.stringify(args) };
}

/**
 * A free-form custom-tool call item (e.g. `apply_patch` with the patch text as input).
 *
 * @example
 * ```ts
 * model.enqueue([customToolCall("apply_patch", "*** Begin Patch\n...\n*** End Patch\n")]);
 * ```
 */
export function customToolCall(name: string, input: string, callId = nextId("call")): OutputItem {
  return { type: "custom_tool_call", call_id: callId, name, input };
}

/**
 * The output items of every `function_call_output` / `custom_tool_call_output` in a request body,
 * keyed by call id: what Codex reported back to the model after running a tool.
 *
 * @example
 * ```ts
 * const outputs = toolOutputs(model.requests[1].body);
 * console.log(outputs["call_1"]);
 * ```
 */
export function toolOutputs(body: Record<string, unknown>): Record<string, string> {
  const outputs: Record<string, string> = {};
  for (const item of (body.input as Record<string, unknown>[] | undefined) ?? []) {
    if (item.type !== "function_call_output" && item.type !== "custom_tool_call_output") continue;
    const output = item.output;
    outputs[String(item.call_id)] = typeof output === "string" ? output : JSON.stringify(output);
  }
  return outputs;
}
