import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatLogLine, prettyLogStream } from "../src/pretty-log.js";
import type { RunningServer, ServerModule, StartServerOptions } from "../src/index.js";
import { cli, Sink } from "./harness.js";

const at = new Date(2025, 0, 2, 13, 4, 5).getTime();

describe("the server's log lines on a terminal", () => {
  it("a request line: time, level, message, method, URL, status, duration, request id", () => {
    const line = JSON.stringify({
      level: 30,
      time: at,
      pid: 1,
      hostname: "h",
      reqId: "r-1",
      res: { statusCode: 200 },
      responseTime: 3.14159,
      msg: "request completed",
    });
    expect(formatLogLine(line)).toBe("13:04:05 INFO  request completed 200 3.1 ms reqId=r-1");
    const incoming = JSON.stringify({
      level: 30,
      time: at,
      reqId: "r-1",
      req: { method: "GET", url: "/x?y=1" },
      msg: "incoming request",
    });
    expect(formatLogLine(incoming)).toBe("13:04:05 INFO  incoming request GET /x?y=1 reqId=r-1");
  });

  it("a warning with its error: other fields as key=value, the stack below", () => {
    const line = JSON.stringify({
      level: 40,
      time: at,
      msg: "blob missing",
      sha: "ab12",
      note: "two words",
      err: { message: "ENOENT", stack: "Error: ENOENT\n    at read (store.js:1:1)" },
    });
    expect(formatLogLine(line)).toBe(
      '13:04:05 WARN  blob missing sha=ab12 note="two words"\n    Error: ENOENT\n        at read (store.js:1:1)',
    );
    expect(formatLogLine(line, true)).toContain("\x1b[33mWARN \x1b[0m");
  });

  it("anything that is not a JSON object passes through", () => {
    expect(formatLogLine("plain text")).toBe("plain text");
    expect(formatLogLine("[1,2]")).toBe("[1,2]");
  });

  it("the stream writes whole lines, however the logger cuts its writes", () => {
    const out = new Sink();
    const stream = prettyLogStream(out, false);
    const line = JSON.stringify({ level: 50, time: at, msg: "boom" });
    stream.write(line.slice(0, 10));
    expect(out.text).toBe("");
    stream.write(`${line.slice(10)}\n${line}\n`);
    expect(out.text).toBe("13:04:05 ERROR boom\n13:04:05 ERROR boom\n");
  });
});

describe("serve passes a pretty logger on a terminal only", () => {
  function fakeServer() {
    let started: (options: StartServerOptions) => void = () => {};
    const startedWith = new Promise<StartServerOptions>((resolve) => (started = resolve));
    const startServer = async (o: StartServerOptions): Promise<RunningServer> => {
      started(o);
      return {
        url: `http://${o.host}:40123`,
        credentialsPath: path.join(o.dataDir, "credentials.json"),
        close: async () => {},
      };
    };
    const resolveConfig = () => ({ logLevel: "debug" });
    const loadServer = async (): Promise<ServerModule> => ({ startServer, resolveConfig });
    return { startedWith, loadServer };
  }

  it.each([
    [true, { level: "debug", stream: expect.objectContaining({ write: expect.any(Function) }) }],
    [false, undefined],
  ])("stdout a terminal: %s", async (isTTY, logger) => {
    const { startedWith, loadServer } = fakeServer();
    const stdout = Object.assign(new Sink(), { isTTY });
    const controller = new AbortController();
    const run = cli(["serve", "--port", "0"], undefined, { stdout, loadServer, signal: controller.signal });
    const options = await startedWith;
    controller.abort();
    expect((await run).code).toBe(0);
    expect(options.logger).toEqual(logger);
  });
});
