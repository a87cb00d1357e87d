import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import {
  PagePromise,
  ViAuthenticationError,
  ViConfigurationError,
  ViNetworkError,
  ViNotFoundError,
  ViServerError,
  ViTimeoutError,
  ViUploadError,
  ViValidationError,
} from "@vi/sdk";
import {
  SECRET_KEY_FLAG_WARNING,
  type RunningServer,
  type ServerModule,
  type StartServerOptions,
} from "../src/index.js";
import { asset, cli, dataset, deletedDataset, fakeClient, pagesOf, session, uploadResult } from "./harness.js";

const notFound = () =>
  new ViNotFoundError("dataset nope not found", {
    code: "ResourceNotFound",
    status: 404,
    suggestion: "list the datasets with `vi-cli datasets list`",
    requestId: "req-123",
  });

const json = (text: string): unknown => JSON.parse(text);

describe("usage errors exit 2", () => {
  it.each([
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["datasets", "list", "--bogus"], /unknown option '--bogus'/],
    [["datasets", "get"], /missing required argument 'datasetId'/],
    [["datasets", "get", "a", "b"], /too many arguments/],
    [["assets", "upload", "ds1", "x", "--concurrency", "abc"], /--concurrency <n>.*expected an integer/],
    [["assets", "upload", "ds1", "x", "--concurrency", "0"], /expected an integer between 1 and 256/],
    [["assets", "upload", "ds1", "x", "--batch-size", "10001"], /expected an integer between 1 and 10000/],
    [["assets", "upload", "ds1", "x", "--metadata", "novalue"], /expected key=value/],
    [["assets", "list", "ds1", "--page-size", "1001"], /between 1 and 1000/],
    [["assets", "list", "ds1", "--page-size", "1.5"], /expected an integer/],
    [["assets", "list", "ds1", "--order", "sideways"], /Allowed choices are asc, desc/],
    [["assets", "list", "ds1", "--sort-by", "colour"], /Allowed choices are default, assetId/],
    [["assets", "list", "ds1", "--filter", "{not json"], /expected a JSON object/],
    [["assets", "list", "ds1", "--filter", "[1]"], /expected a JSON object, got an array/],
    [["assets", "download", "ds1", "out", "--concurrency", "-1"], /expected an integer/],
    [["assets", "wait", "ds1", "s1", "--timeout", "soon"], /expected a number of seconds/],
    [["--endpoint", "not a url", "datasets", "list"], /expected an http\(s\) URL/],
    [["serve", "--port", "70000"], /between 0 and 65535/],
    [["datasets", "create", "cats", "--type", "nonsense"], /Allowed choices are phrase-grounding, vqa/],
  ])("%j", async (argv, message) => {
    const r = await cli(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^error: /);
    expect(r.stderr).toMatch(/hint: run with --help/);
    expect(r.stdout).toBe("");
    expect(r.createClient).not.toHaveBeenCalled();
  });

  it("a missing command shows the help on stderr and exits 2", async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Usage: vi-cli/);
    const group = await cli(["assets"]);
    expect(group.code).toBe(2);
    expect(group.stderr).toMatch(/Usage: vi-cli assets/);
  });

  it("with --json a usage error is one JSON document on stdout", async () => {
    const r = await cli(["--json", "assets", "list", "ds1", "--page-size", "0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("");
    expect(json(r.stdout)).toEqual({
      error: {
        code: "UsageError",
        message: expect.stringMatching(/--page-size/),
        suggestion: expect.any(String),
        requestId: null,
        status: null,
      },
    });
  });

  it("suggests the closest command", async () => {
    const r = await cli(["datasets", "lst"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Did you mean list\?/);
  });
});

describe("help and version exit 0", () => {
  it("--help documents the exit codes and the environment", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Exit codes:/);
    for (const code of ["0", "1", "2", "3", "4", "5", "6", "130"])
      expect(r.stdout).toMatch(new RegExp(`^  ${code} +\\S`, "m"));
    expect(r.stdout).toMatch(/DATATURE_VI_SECRET_KEY/);
  });

  it("subcommand help lists its flags and the global ones", async () => {
    const r = await cli(["assets", "upload", "--help"]);
    expect(r.code).toBe(0);
    for (const flag of [
      "--fail-after-all",
      "--keep-linked-resources",
      "--no-wait",
      "--concurrency",
      "--batch-size",
      "--no-progress",
      "--json",
    ])
      expect(r.stdout).toContain(flag);
  });

  it("--version prints the package version", async () => {
    const r = await cli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe("global options -> SDK client options", () => {
  it("passes nothing without flags, so the SDK's own resolution applies", async () => {
    const client = fakeClient();
    client.datasets.list.mockReturnValue(pagesOf([[]]));
    const r = await cli(["datasets", "list"], client);
    expect(r.code).toBe(0);
    expect(r.createClient).toHaveBeenCalledWith({});
  });

  it("maps every flag, before or after the command, and warns about --secret-key", async () => {
    const client = fakeClient();
    client.datasets.list.mockReturnValue(pagesOf([[]]));
    const r = await cli(
      [
        "--endpoint",
        "http://vi.example:9000",
        "--organization-id",
        "org",
        "datasets",
        "list",
        "--secret-key",
        "dtvi_x",
        "--config",
        "creds.json",
      ],
      client,
    );
    expect(r.code).toBe(0);
    expect(r.createClient).toHaveBeenCalledWith({
      endpoint: "http://vi.example:9000",
      organizationId: "org",
      secretKey: "dtvi_x",
      configFile: path.resolve("/work/here", "creds.json"),
    });
    expect(r.stderr).toContain(SECRET_KEY_FLAG_WARNING);
  });

  it("--quiet silences the --secret-key warning", async () => {
    const client = fakeClient();
    client.datasets.list.mockReturnValue(pagesOf([[]]));
    const r = await cli(["--quiet", "--secret-key", "dtvi_x", "datasets", "list"], client);
    expect(r.stderr).toBe("");
  });

  it("closes the client once the command is done, even after an error", async () => {
    const client = fakeClient();
    client.datasets.get.mockRejectedValue(notFound());
    await cli(["datasets", "get", "nope"], client);
    expect(client.close).toHaveBeenCalledTimes(1);
  });
});

describe("API errors -> exit codes and error output", () => {
  it("ViNotFoundError exits 4 with one error line, the hint and the request id", async () => {
    const client = fakeClient();
    client.datasets.get.mockRejectedValue(notFound());
    const r = await cli(["datasets", "get", "nope"], client);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "error: dataset nope not found\nhint: list the datasets with `vi-cli datasets list`\nrequest id: req-123\n",
    );
  });

  it("with --json the error is on stdout: {error: {code, message, suggestion, requestId, status}}", async () => {
    const client = fakeClient();
    client.datasets.get.mockRejectedValue(notFound());
    const r = await cli(["datasets", "get", "nope", "--json"], client);
    expect(r.code).toBe(4);
    expect(r.stderr).toBe("");
    expect(json(r.stdout)).toEqual({
      error: {
        code: "ResourceNotFound",
        message: "dataset nope not found",
        suggestion: "list the datasets with `vi-cli datasets list`",
        requestId: "req-123",
        status: 404,
      },
    });
  });

  it.each([
    ["ViAuthenticationError", new ViAuthenticationError("invalid key", { code: "InvalidApiKey", status: 401 }), 3],
    ["ViConfigurationError", new ViConfigurationError("no secret key", { code: "ConfigurationError" }), 3],
    ["ViNotFoundError", notFound(), 4],
    ["ViValidationError", new ViValidationError("bad filter", { code: "InvalidParameter", status: 400 }), 5],
    ["ViServerError 500", new ViServerError("boom", { code: "ServerError", status: 500 }), 5],
    ["ViServerError 503", new ViServerError("unavailable", { code: "ServiceUnavailable", status: 503 }), 6],
    ["ViNetworkError", new ViNetworkError("ECONNREFUSED", { code: "NetworkError" }), 6],
    ["ViTimeoutError", new ViTimeoutError("timed out", { code: "Timeout" }), 6],
    ["a plain Error", new Error("something else"), 5],
  ])("%s -> %i", async (_name, error, code) => {
    const client = fakeClient();
    client.datasets.get.mockRejectedValue(error);
    const r = await cli(["datasets", "get", "ds1"], client);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(new RegExp(`^error: ${error.message}`));
  });

  it("gives a hint of its own for configuration and network errors", async () => {
    const client = fakeClient();
    client.datasets.get.mockRejectedValue(new ViConfigurationError("no secret key", { code: "ConfigurationError" }));
    expect((await cli(["datasets", "get", "ds1"], client)).stderr).toMatch(
      /hint: run vi-cli from the folder where the server keeps vi-data\/.*DATATURE_VI_SECRET_KEY.*vi-cli serve/,
    );
    client.datasets.get.mockRejectedValue(new ViNetworkError("ECONNREFUSED", { code: "NetworkError" }));
    expect((await cli(["datasets", "get", "ds1"], client)).stderr).toMatch(/hint: .*--endpoint/);
  });
});

describe("keys create", () => {
  const created = {
    kind: "SecretKey" as const,
    keyId: "key1",
    name: "ci",
    workspaceId: "org",
    secretKey: "dtvi_" + "k".repeat(98),
    createDate: 0,
  };

  it("calls organizations.createKey({name}) and prints the key once, with a warning", async () => {
    const client = fakeClient();
    client.organizations.createKey.mockResolvedValue(created);
    const r = await cli(["keys", "create", "--name", "ci"], client);
    expect(r.code).toBe(0);
    expect(client.organizations.createKey).toHaveBeenCalledWith({ name: "ci", signal: expect.any(AbortSignal) });
    expect(r.stdout.split(created.secretKey)).toHaveLength(2);
    expect(r.stderr).toMatch(/warning: store this secret key now/);
  });

  it("--quiet prints only the key; --json the created key", async () => {
    const client = fakeClient();
    client.organizations.createKey.mockResolvedValue(created);
    expect((await cli(["-q", "keys", "create"], client)).stdout).toBe(created.secretKey + "\n");
    expect(client.organizations.createKey).toHaveBeenLastCalledWith({ signal: expect.any(AbortSignal) });
    expect(json((await cli(["--json", "keys", "create"], client)).stdout)).toEqual(created);
  });

  it("fails clearly (exit 5) when the SDK has no createKey", async () => {
    const client = fakeClient() as Partial<ReturnType<typeof fakeClient>> & ReturnType<typeof fakeClient>;
    delete (client.organizations as { createKey?: unknown }).createKey;
    const r = await cli(["keys", "create"], client);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/organizations\.createKey/);
  });
});

describe("datasets", () => {
  it("create maps name, --description and --type", async () => {
    const client = fakeClient();
    client.datasets.create.mockResolvedValue(dataset({ name: "cats" }));
    const r = await cli(["datasets", "create", "cats", "--description", "a few cats", "--type", "vqa"], client);
    expect(r.code).toBe(0);
    expect(client.datasets.create).toHaveBeenCalledWith({
      name: "cats",
      description: "a few cats",
      type: "vqa",
      signal: expect.any(AbortSignal),
    });
    expect(r.stdout).toBe("Created dataset ds1 (cats)\n");
  });

  it("create --json prints the dataset", async () => {
    const client = fakeClient();
    client.datasets.create.mockResolvedValue(dataset());
    const r = await cli(["datasets", "create", "cats", "--json"], client);
    expect(client.datasets.create).toHaveBeenCalledWith({ name: "cats", signal: expect.any(AbortSignal) });
    expect(json(r.stdout)).toEqual(dataset());
  });

  it("list prints a table of every page; --json {items}", async () => {
    const client = fakeClient();
    client.datasets.list.mockImplementation(() =>
      pagesOf([[dataset()], [dataset({ datasetId: "ds2", name: "dogs" })]]),
    );
    const r = await cli(["datasets", "list"], client);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^DATASETID +NAME +TYPE +ASSETS +CREATED$/);
    expect(lines.slice(1).map((l) => l.split(/ +/)[0])).toEqual(["ds1", "ds2"]);
    const j = await cli(["datasets", "list", "--json"], client);
    expect(json(j.stdout)).toEqual({ items: [dataset(), dataset({ datasetId: "ds2", name: "dogs" })] });
  });

  it("get prints the details", async () => {
    const client = fakeClient();
    client.datasets.get.mockResolvedValue(dataset());
    const r = await cli(["datasets", "get", "ds1"], client);
    expect(client.datasets.get).toHaveBeenCalledWith({ datasetId: "ds1", signal: expect.any(AbortSignal) });
    expect(r.stdout).toMatch(/^Dataset id: +ds1$/m);
    expect(r.stdout).toMatch(/^Assets: +3$/m);
  });

  describe("delete", () => {
    const deleted = deletedDataset("ds1", 3);

    it("refuses without --yes when stdin is not a terminal (exit 2)", async () => {
      const client = fakeClient();
      const r = await cli(["datasets", "delete", "ds1"], client);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/refusing to delete dataset ds1/);
      expect(r.stderr).toMatch(/hint: pass --yes/);
      expect(client.datasets.delete).not.toHaveBeenCalled();
    });

    it("asks on a terminal, and deletes on yes", async () => {
      const client = fakeClient();
      client.datasets.delete.mockResolvedValue(deleted);
      const confirm = vi.fn(async () => true);
      const r = await cli(["datasets", "delete", "ds1"], client, { isInteractive: () => true, confirm });
      expect(confirm).toHaveBeenCalledWith(expect.stringMatching(/Delete dataset ds1/));
      expect(client.datasets.delete).toHaveBeenCalledWith({ datasetId: "ds1", signal: expect.any(AbortSignal) });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("Deleted dataset ds1 (3 assets)\n");
    });

    it("deletes nothing when the answer is no (exit 130)", async () => {
      const client = fakeClient();
      const r = await cli(["datasets", "delete", "ds1"], client, {
        isInteractive: () => true,
        confirm: async () => false,
      });
      expect(r.code).toBe(130);
      expect(client.datasets.delete).not.toHaveBeenCalled();
      expect(r.stderr).toMatch(/cancelled/);
    });

    it("--yes deletes without asking; --json prints the DeletedDataset", async () => {
      const client = fakeClient();
      client.datasets.delete.mockResolvedValue(deleted);
      const confirm = vi.fn(async () => false);
      const r = await cli(["datasets", "delete", "ds1", "--yes", "--json"], client, {
        isInteractive: () => true,
        confirm,
      });
      expect(confirm).not.toHaveBeenCalled();
      expect(r.code).toBe(0);
      expect(json(r.stdout)).toEqual(deleted);
    });
  });
});

describe("assets upload", () => {
  it("maps the defaults", async () => {
    const client = fakeClient();
    client.assets.upload.mockResolvedValue(uploadResult(2));
    const r = await cli(["assets", "upload", "ds1", "a.jpg", "dir/"], client);
    expect(r.code).toBe(0);
    expect(client.assets.upload).toHaveBeenCalledWith({
      datasetId: "ds1",
      paths: ["a.jpg", "dir/"],
      waitUntilDone: true,
      failureMode: "FailAfterOne",
      onAssetOverwritten: "RemoveLinkedResource",
      signal: expect.any(AbortSignal),
      onInterrupted: expect.any(Function),
    });
    expect(r.stdout).toContain(uploadResult(2).summary().split("\n")[0]);
    expect(r.stdout).toMatch(/2 total, 2 succeeded, 0 failed/);
  });

  it("maps every flag", async () => {
    const client = fakeClient();
    client.assets.upload.mockResolvedValue(uploadResult(1));
    const r = await cli(
      [
        "assets",
        "upload",
        "ds1",
        "img",
        "--fail-after-all",
        "--keep-linked-resources",
        "--no-wait",
        "--concurrency",
        "4",
        "--batch-size",
        "500",
        "--no-progress",
        "--metadata",
        "camera=a",
        "--metadata",
        "site=north",
        "--metadata-json",
        '{"iso": 200, "night": true, "site": "x"}',
      ],
      client,
    );
    expect(r.code).toBe(0);
    expect(client.assets.upload).toHaveBeenCalledWith({
      datasetId: "ds1",
      paths: ["img"],
      waitUntilDone: false,
      failureMode: "FailAfterAll",
      onAssetOverwritten: "KeepLinkedResource",
      concurrency: 4,
      batchSize: 500,
      showProgress: false,
      customMetadata: { camera: "a", site: "north", iso: 200, night: true },
      signal: expect.any(AbortSignal),
      onInterrupted: expect.any(Function),
    });
    // --no-wait: the command that waits for the session
    expect(r.stdout).toMatch(/^ {2}vi-cli assets wait ds1 sess1$/m);
  });

  it("--quiet turns the progress bar off", async () => {
    const client = fakeClient();
    client.assets.upload.mockResolvedValue(uploadResult(1));
    await cli(["assets", "upload", "ds1", "img", "-q"], client);
    expect(client.assets.upload).toHaveBeenCalledWith(expect.objectContaining({ showProgress: false }));
  });

  it("exits 1 when some files failed (FailAfterAll), listing them", async () => {
    const client = fakeClient();
    const failed = [{ path: "img/b.jpg", filename: "b.jpg", code: "ECORRUPT", reason: "checksum mismatch" }];
    client.assets.upload.mockResolvedValue(uploadResult(3, failed));
    const r = await cli(["assets", "upload", "ds1", "img", "--fail-after-all"], client);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/3 total, 2 succeeded, 1 failed/);
    expect(r.stdout + r.stderr).toMatch(/img\/b\.jpg.*ECORRUPT/);
    expect(r.stderr).toMatch(/error: 1 of 3 file\(s\) failed to upload/);
  });

  it("--json prints the result's fields, without signed upload URLs", async () => {
    const client = fakeClient();
    const failed = [{ path: "img/b.jpg", filename: "b.jpg", code: "ECORRUPT", reason: "checksum mismatch" }];
    client.assets.upload.mockResolvedValue(uploadResult(3, failed));
    const r = await cli(["assets", "upload", "ds1", "img", "--json", "--fail-after-all"], client);
    expect(r.code).toBe(1);
    const doc = json(r.stdout) as Record<string, unknown>;
    expect(doc).toMatchObject({
      totalFiles: 3,
      totalSucceeded: 2,
      totalFailed: 1,
      successRate: (2 / 3) * 100,
      failedFiles: failed,
      sessionIds: ["sess1"],
      durationMs: 1500,
      sessions: [{ assetIngestionSessionId: "sess1", progressCount: { total: 3, succeeded: 2, errored: 1 } }],
    });
    expect(r.stdout).not.toContain("signed/upload-url");
  });

  it("ViUploadError exits 1: summary, failed files and the error; --json adds the result to the error", async () => {
    const client = fakeClient();
    const failed = [{ path: "img/b.jpg", filename: "b.jpg", code: "EBADMIME", reason: "not an image" }];
    const error = new ViUploadError("the upload stopped at the first failed file", {
      code: "UploadFailed",
      result: uploadResult(2, failed),
      suggestion: "use --fail-after-all to try every file",
    });
    client.assets.upload.mockRejectedValue(error);
    const r = await cli(["assets", "upload", "ds1", "img"], client);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/Upload summary/);
    expect(r.stderr).toMatch(/^error: the upload stopped at the first failed file$/m);
    expect(r.stderr).toMatch(/^hint: use --fail-after-all/m);

    const j = await cli(["assets", "upload", "ds1", "img", "--json"], client);
    expect(j.code).toBe(1);
    expect(j.stderr).toBe("");
    expect(json(j.stdout)).toMatchObject({
      error: { code: "UploadFailed", message: "the upload stopped at the first failed file", status: null },
      result: { totalFiles: 2, totalFailed: 1, failedFiles: failed },
    });
  });
});

describe("assets list", () => {
  it("maps every flag to the SDK's options", async () => {
    const client = fakeClient();
    client.assets.list.mockReturnValue(pagesOf([[asset("a1", "cat.jpg")]]));
    const r = await cli(
      [
        "assets",
        "list",
        "ds1",
        "--page-size",
        "50",
        "--page-token",
        "tok",
        "--sort-by",
        "metadata.fileSize",
        "--order",
        "desc",
        "--filter",
        '{"status": "error"}',
        "--query",
        'camera == "a"',
        "--contents",
        "--strict-query",
      ],
      client,
    );
    expect(r.code).toBe(0);
    expect(client.assets.list).toHaveBeenCalledWith({
      datasetId: "ds1",
      pageSize: 50,
      pageToken: "tok",
      sortBy: { criterion: "metadata.fileSize", order: "desc" },
      filter: '{"status": "error"}',
      metadataQuery: 'camera == "a"',
      contents: true,
      strictQuery: true,
      signal: expect.any(AbortSignal),
    });
  });

  it("--sort-by alone sorts ascending; --order alone sorts by default", async () => {
    const client = fakeClient();
    client.assets.list.mockImplementation(() => pagesOf([[]]));
    await cli(["assets", "list", "ds1", "--sort-by", "filename"], client);
    expect(client.assets.list).toHaveBeenLastCalledWith(
      expect.objectContaining({ sortBy: { criterion: "filename", order: "asc" } }),
    );
    await cli(["assets", "list", "ds1", "--order", "desc"], client);
    expect(client.assets.list).toHaveBeenLastCalledWith(
      expect.objectContaining({ sortBy: { criterion: "default", order: "desc" } }),
    );
    await cli(["assets", "list", "ds1"], client);
    expect(client.assets.list).toHaveBeenLastCalledWith({ datasetId: "ds1", signal: expect.any(AbortSignal) });
  });

  it("prints one page as a table (assetId, filename, WxH, mime, size, custom metadata) and where the next page is", async () => {
    const client = fakeClient();
    const tagged = asset("a2", "dogs/dog.png");
    tagged.metadata.customMetadata = { camera: "a", iso: 200, night: true, code: "007", note: "two words" };
    client.assets.list.mockReturnValue(pagesOf([[asset("a1", "cat.jpg"), tagged], [asset("a3", "x.jpg")]]));
    const r = await cli(["assets", "list", "ds1"], client);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ASSETID +FILENAME +WIDTH X HEIGHT +MIME +BYTES +CUSTOM METADATA$/);
    expect(lines[1]).toMatch(/^a1 +cat\.jpg +640x480 +image\/jpeg +2\.0 KiB +-$/);
    // Strings that could be read as another type, or hold spaces, are quoted: the types show.
    expect(lines[2]).toMatch(/ 2\.0 KiB +camera=a iso=200 night=true code="007" note="two words"$/);
    expect(r.stderr).toMatch(/--page-token 1/);
  });

  it("--json prints the page", async () => {
    const client = fakeClient();
    client.assets.list.mockReturnValue(pagesOf([[asset("a1", "cat.jpg")], [asset("a2", "b.jpg")]]));
    const r = await cli(["assets", "list", "ds1", "--json"], client);
    expect(json(r.stdout)).toEqual({ items: [asset("a1", "cat.jpg")], nextPage: "1", prevPage: null });
  });

  it("--all follows every page (table and JSON)", async () => {
    const client = fakeClient();
    const pages = [
      [asset("a1", "1.jpg"), asset("a2", "2.jpg")],
      [asset("a3", "3.jpg")],
      [asset("a4", "a-much-longer-name.jpg")],
    ];
    client.assets.list.mockImplementation(() => pagesOf(pages));
    const r = await cli(["assets", "list", "ds1", "--all"], client);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.map((l) => l.split(/ +/)[0])).toEqual(["ASSETID", "a1", "a2", "a3", "a4"]);
    expect(r.stderr).toMatch(/4 asset\(s\)/);

    const j = await cli(["assets", "list", "ds1", "--all", "--json"], client);
    expect(json(j.stdout)).toEqual({ items: pages.flat(), nextPage: null, count: 4 });
    const empty = fakeClient();
    empty.assets.list.mockReturnValue(pagesOf([[]]));
    expect(json((await cli(["assets", "list", "ds1", "--all", "--json"], empty)).stdout)).toEqual({
      items: [],
      nextPage: null,
      count: 0,
    });
  });

  it("--all --json stays one JSON document when a later page fails, and exits with the error's code", async () => {
    const client = fakeClient();
    client.assets.list.mockImplementation(
      () =>
        new PagePromise(async (token) => {
          if (token === undefined) return { items: [asset("a1", "1.jpg")], nextPage: "1", prevPage: null };
          throw new ViNetworkError("connection reset", { code: "NetworkError" });
        }),
    );
    const r = await cli(["assets", "list", "ds1", "--all", "--json"], client);
    expect(r.code).toBe(6);
    expect(r.stderr).toBe("");
    expect(json(r.stdout)).toEqual({
      items: [asset("a1", "1.jpg")],
      nextPage: null,
      count: 1,
      error: expect.objectContaining({ code: "NetworkError", message: "connection reset" }),
    });

    client.assets.list.mockImplementation(() => new PagePromise(async () => Promise.reject(notFound())));
    const first = await cli(["assets", "list", "ds1", "--all", "--json"], client);
    expect(first.code).toBe(4);
    expect(json(first.stdout)).toEqual({ error: expect.objectContaining({ code: "ResourceNotFound" }) });
  });

  it("--contents adds the download URL column", async () => {
    const client = fakeClient();
    const withUrl = asset("a1", "cat.jpg", { contents: { asset: { url: "http://h/signed/cat.jpg", expiry: 0 } } });
    client.assets.list.mockReturnValue(pagesOf([[withUrl]]));
    const r = await cli(["assets", "list", "ds1", "--contents"], client);
    expect(r.stdout).toMatch(/URL/);
    expect(r.stdout).toContain("http://h/signed/cat.jpg");
  });

  it("a not-found dataset exits 4", async () => {
    const client = fakeClient();
    client.assets.list.mockReturnValue(pagesOf([[]]));
    client.assets.list.mockImplementation(() => ({
      then: (_ok: unknown, fail: (e: unknown) => unknown) => Promise.reject(notFound()).then(undefined, fail),
    }));
    expect((await cli(["assets", "list", "nope"], client)).code).toBe(4);
  });
});

describe("assets get", () => {
  it("maps --contents and prints the details", async () => {
    const client = fakeClient();
    client.assets.get.mockResolvedValue(
      asset("a1", "cat.jpg", { contents: { asset: { url: "http://h/signed/cat.jpg", expiry: Date.UTC(2030, 0, 1) } } }),
    );
    const r = await cli(["assets", "get", "ds1", "a1", "--contents"], client);
    expect(client.assets.get).toHaveBeenCalledWith({
      datasetId: "ds1",
      assetId: "a1",
      contents: true,
      signal: expect.any(AbortSignal),
    });
    expect(r.stdout).toMatch(/^Size: +640x480$/m);
    expect(r.stdout).toMatch(/^Download URL: +http:\/\/h\/signed\/cat\.jpg$/m);
    expect(r.stdout).toMatch(/^URL expires: +2030-01-01T00:00:00\.000Z$/m);
  });

  it("without --contents does not ask for URLs; --json prints the asset", async () => {
    const client = fakeClient();
    client.assets.get.mockResolvedValue(asset("a1", "cat.jpg"));
    const r = await cli(["assets", "get", "ds1", "a1", "--json"], client);
    expect(client.assets.get).toHaveBeenCalledWith({
      datasetId: "ds1",
      assetId: "a1",
      signal: expect.any(AbortSignal),
    });
    expect(json(r.stdout)).toEqual(asset("a1", "cat.jpg"));
  });

  it("a missing asset exits 4", async () => {
    const client = fakeClient();
    client.assets.get.mockRejectedValue(new ViNotFoundError("no asset a9", { code: "ResourceNotFound", status: 404 }));
    expect((await cli(["assets", "get", "ds1", "a9"], client)).code).toBe(4);
  });
});

describe("assets download", () => {
  const ok = { saveDir: "/abs/out", downloaded: 3, skipped: 1, failed: [], bytes: 3 * 2048 };

  it("maps the flags", async () => {
    const client = fakeClient();
    client.assets.download.mockResolvedValue(ok);
    const r = await cli(
      ["assets", "download", "ds1", "out", "--overwrite", "--concurrency", "3", "--no-progress"],
      client,
    );
    expect(r.code).toBe(0);
    expect(client.assets.download).toHaveBeenCalledWith({
      datasetId: "ds1",
      saveDir: "out",
      overwrite: true,
      concurrency: 3,
      showProgress: false,
      signal: expect.any(AbortSignal),
    });
    expect(r.stdout).toMatch(/Downloaded 3 asset\(s\) \(6\.0 KiB\) to \/abs\/out/);
    expect(r.stdout).toMatch(/Skipped 1/);
  });

  it("defaults: no overwrite, the SDK's concurrency and progress", async () => {
    const client = fakeClient();
    client.assets.download.mockResolvedValue(ok);
    await cli(["assets", "download", "ds1", "out"], client);
    expect(client.assets.download).toHaveBeenCalledWith({
      datasetId: "ds1",
      saveDir: "out",
      signal: expect.any(AbortSignal),
    });
  });

  it("exits 1 when some files failed, naming them; --json prints the result", async () => {
    const client = fakeClient();
    const result = { ...ok, failed: [{ filename: "b.jpg", reason: "size mismatch" }] };
    client.assets.download.mockResolvedValue(result);
    const r = await cli(["assets", "download", "ds1", "out"], client);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/b\.jpg: size mismatch/);
    const j = await cli(["assets", "download", "ds1", "out", "--json"], client);
    expect(j.code).toBe(1);
    expect(json(j.stdout)).toEqual(result);
  });
});

describe("assets delete", () => {
  it("deletes each asset", async () => {
    const client = fakeClient();
    client.assets.delete.mockImplementation(async ({ assetId }: { assetId: string }) => ({ assetId, deleted: true }));
    const r = await cli(["assets", "delete", "ds1", "a1", "a2"], client);
    expect(r.code).toBe(0);
    expect(client.assets.delete.mock.calls.map((c) => c[0])).toEqual([
      { datasetId: "ds1", assetId: "a1", signal: expect.any(AbortSignal) },
      { datasetId: "ds1", assetId: "a2", signal: expect.any(AbortSignal) },
    ]);
    expect(r.stdout).toBe("Deleted a1\nDeleted a2\n");
  });

  it("goes on past a failure, names it, and exits 1", async () => {
    const client = fakeClient();
    client.assets.delete.mockImplementation(async ({ assetId }: { assetId: string }) => {
      if (assetId === "a2") throw new ViNotFoundError("no asset a2", { code: "ResourceNotFound", status: 404 });
      return { assetId, deleted: true };
    });
    const r = await cli(["assets", "delete", "ds1", "a1", "a2", "a3"], client);
    expect(r.code).toBe(1);
    expect(client.assets.delete).toHaveBeenCalledTimes(3);
    expect(r.stderr).toMatch(/error: a2: no asset a2/);
    expect(r.stderr).toMatch(/failed: a2/);
    const j = await cli(["assets", "delete", "ds1", "a1", "a2", "a3", "--json"], client);
    expect(json(j.stdout)).toEqual({
      deleted: ["a1", "a3"],
      failed: [{ assetId: "a2", error: expect.objectContaining({ code: "ResourceNotFound", status: 404 }) }],
    });
  });

  it("one missing asset exits 4; an authentication error stops at once with 3", async () => {
    const client = fakeClient();
    client.assets.delete.mockRejectedValue(
      new ViNotFoundError("no asset a9", { code: "ResourceNotFound", status: 404 }),
    );
    expect((await cli(["assets", "delete", "ds1", "a9"], client)).code).toBe(4);
    client.assets.delete.mockReset();
    client.assets.delete.mockRejectedValue(
      new ViAuthenticationError("invalid key", { code: "InvalidApiKey", status: 401 }),
    );
    const r = await cli(["assets", "delete", "ds1", "a1", "a2"], client);
    expect(r.code).toBe(3);
    expect(client.assets.delete).toHaveBeenCalledTimes(1);
  });
});

describe("assets wait", () => {
  it("maps the session and --timeout (seconds -> ms)", async () => {
    const client = fakeClient();
    client.assets.waitUntilDone.mockResolvedValue(session("s1", { total: 2, succeeded: 2, errored: 0 }));
    const r = await cli(["assets", "wait", "ds1", "s1", "--timeout", "1.5"], client);
    expect(r.code).toBe(0);
    expect(client.assets.waitUntilDone).toHaveBeenCalledWith({
      datasetId: "ds1",
      assetIngestionSessionId: "s1",
      timeout: 1500,
      signal: expect.any(AbortSignal),
    });
    expect(r.stdout).toMatch(/Session s1: Finished Reached/);
    expect(r.stdout).toMatch(/Succeeded: 2/);
  });

  it("exits 1 and lists the failed files when some failed; --json prints the session without upload URLs", async () => {
    const client = fakeClient();
    client.assets.waitUntilDone.mockResolvedValue(
      session("s1", { total: 2, succeeded: 1, errored: 1 }, { "b.jpg": "bad checksum" }),
    );
    const r = await cli(["assets", "wait", "ds1", "s1"], client);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/b\.jpg: ECORRUPT bad checksum/);
    const j = await cli(["assets", "wait", "ds1", "s1", "--json"], client);
    expect(j.code).toBe(1);
    expect(json(j.stdout)).toMatchObject({
      assetIngestionSessionId: "s1",
      progressCount: { total: 2, succeeded: 1, errored: 1 },
    });
    expect(j.stdout).not.toContain("signed/upload-url");
  });

  it("a timeout exits 6", async () => {
    const client = fakeClient();
    client.assets.waitUntilDone.mockRejectedValue(
      new ViTimeoutError("session s1 not finished after 1 s", { code: "Timeout" }),
    );
    expect((await cli(["assets", "wait", "ds1", "s1", "--timeout", "1"], client)).code).toBe(6);
  });
});

describe("interruption", () => {
  it("an aborted run exits 130", async () => {
    const controller = new AbortController();
    const client = fakeClient();
    client.assets.upload.mockImplementation(
      ({ signal }: { signal: AbortSignal }) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener("abort", () => reject(signal.reason));
        }),
    );
    const pending = cli(["assets", "upload", "ds1", "img"], client, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("SIGINT")), 10);
    const r = await pending;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/^error: interrupted/);
  });
});

describe("serve", () => {
  function fakeServer() {
    const close = vi.fn(async () => {});
    const startServer = vi.fn(async (o: StartServerOptions): Promise<RunningServer> => ({
      url: `http://${o.host}:${o.port === 0 ? 40123 : o.port}`,
      credentialsPath: path.join(o.dataDir, "credentials.json"),
      close,
    }));
    const loadServer = vi.fn(async (): Promise<ServerModule> => ({ startServer }));
    return { close, startServer, loadServer };
  }

  it("starts with the flags, prints the URL and credentials, closes on the signal and exits 0", async () => {
    const server = fakeServer();
    const controller = new AbortController();
    const pending = cli(["serve", "--host", "0.0.0.0", "--port", "9000", "--data-dir", "data"], fakeClient(), {
      loadServer: server.loadServer,
      signal: controller.signal,
    });
    await vi.waitFor(() => expect(server.startServer).toHaveBeenCalled());
    expect(server.startServer).toHaveBeenCalledWith({
      host: "0.0.0.0",
      port: 9000,
      dataDir: path.resolve("/work/here", "data"),
    });
    expect(server.close).not.toHaveBeenCalled();
    controller.abort();
    const r = await pending;
    expect(r.code).toBe(0);
    expect(server.close).toHaveBeenCalledTimes(1);
    expect(r.stdout).toMatch(/listening on http:\/\/0\.0\.0\.0:9000/);
    // A wildcard host is not an address a browser opens: the gallery is printed at localhost.
    expect(r.stdout).toMatch(/Gallery: +http:\/\/localhost:9000\/ /);
    expect(r.stdout).toContain(path.join("/work/here", "data", "credentials.json"));
    expect(r.createClient).not.toHaveBeenCalled();
  });

  it("defaults from HOST, PORT and VI_DATA_DIR, else 127.0.0.1:8080 ./vi-data; --json is one line", async () => {
    const server = fakeServer();
    const controller = new AbortController();
    controller.abort();
    await cli(["serve"], fakeClient(), { loadServer: server.loadServer, signal: controller.signal });
    expect(server.startServer).toHaveBeenLastCalledWith({
      host: "127.0.0.1",
      port: 8080,
      dataDir: "/work/here/vi-data",
    });

    const r = await cli(["serve", "--json"], fakeClient(), {
      loadServer: server.loadServer,
      signal: controller.signal,
      env: { HOST: "::1", PORT: "0", VI_DATA_DIR: "/srv/vi" },
    });
    expect(server.startServer).toHaveBeenLastCalledWith({ host: "::1", port: 0, dataDir: "/srv/vi" });
    expect(r.stdout.split("\n")).toHaveLength(2);
    expect(json(r.stdout)).toEqual({
      url: "http://::1:40123",
      galleryUrl: "http://::1:40123/",
      credentialsPath: "/srv/vi/credentials.json",
      dataDir: "/srv/vi",
      host: "::1",
      port: 0,
    });
  });

  it("says when this start created the organization, never printing its key", async () => {
    const close = vi.fn(async () => {});
    const loadServer = async (): Promise<ServerModule> => ({
      startServer: async (o) => ({
        url: "http://127.0.0.1:8080",
        credentialsPath: path.join(o.dataDir, "credentials.json"),
        created: { organizationId: "org1", secretKey: "dtvi_secret" } as RunningServer["created"],
        close,
      }),
    });
    const controller = new AbortController();
    controller.abort();
    const r = await cli(["serve"], fakeClient(), { loadServer, signal: controller.signal });
    expect(r.stdout).toMatch(/Created organization org1/);
    expect(r.stdout + r.stderr).not.toContain("dtvi_secret");
    const j = await cli(["serve", "--json"], fakeClient(), { loadServer, signal: controller.signal });
    expect(json(j.stdout)).toMatchObject({ createdOrganizationId: "org1" });
    expect(j.stdout).not.toContain("dtvi_secret");
  });

  it("a replica that joined an organization made elsewhere has no credentials file, and says so", async () => {
    const loadServer = async (): Promise<ServerModule> => ({
      startServer: async () => ({ url: "http://127.0.0.1:8080", close: async () => {} }),
    });
    const controller = new AbortController();
    controller.abort();
    const r = await cli(["serve", "--data-dir", "/srv/replica-2"], fakeClient(), {
      loadServer,
      signal: controller.signal,
    });
    expect(r.stdout).toMatch(/Credentials: +none in \/srv\/replica-2/);
    expect(r.stdout + r.stderr).toMatch(
      /joined an existing organization: its key is in the credentials.json of the start/,
    );
    expect(r.stdout + r.stderr).not.toContain("replica-2/credentials.json");
    const j = await cli(["serve", "--json"], fakeClient(), { loadServer, signal: controller.signal });
    expect(json(j.stdout)).not.toHaveProperty("credentialsPath");
  });

  it("--database-url is handed to the server (VI_DATABASE_URL is the server's own to read)", async () => {
    const server = fakeServer();
    const controller = new AbortController();
    controller.abort();
    const url = "postgres://vi:secret@db.internal:5432/vi";
    await cli(["serve", "--database-url", url], fakeClient(), {
      loadServer: server.loadServer,
      signal: controller.signal,
    });
    expect(server.startServer).toHaveBeenLastCalledWith({
      host: "127.0.0.1",
      port: 8080,
      dataDir: "/work/here/vi-data",
      databaseUrl: url,
    });
  });

  it("a bad PORT is a usage error", async () => {
    const server = fakeServer();
    const r = await cli(["serve"], fakeClient(), { loadServer: server.loadServer, env: { PORT: "http" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/PORT/);
    expect(server.startServer).not.toHaveBeenCalled();
  });
});
