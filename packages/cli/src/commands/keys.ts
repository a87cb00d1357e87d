import type { Command } from "commander";
import { ENV } from "../client-options.js";
import { actionOf, type ResolvedDeps, type RunState } from "../context.js";
import { renderDetails, formatTime } from "../output.js";
import { compact } from "../parse.js";

interface CreateKeyOptions {
  name?: string;
}

export function registerKeys(program: Command, deps: ResolvedDeps, state: RunState): void {
  const keys = program.command("keys").description("manage the organization's secret keys");

  keys
    .command("create")
    .description("create a new secret key for the organization (shown once)")
    .option("--name <name>", "a name to recognise the key by")
    .action(
      actionOf<CreateKeyOptions>(deps, state, async (ctx, opts) => {
        const { organizations } = ctx.client();
        if (!organizations.createKey)
          throw new Error("this build of @vi/sdk has no client.organizations.createKey: keys cannot be created yet");
        const key = await organizations.createKey(compact({ name: opts.name, signal: ctx.signal }));
        ctx.out.result(
          () => {
            if (ctx.out.quiet) {
              ctx.out.line(key.secretKey);
              return;
            }
            for (const line of renderDetails([
              ["Secret key", key.secretKey],
              ["Key id", key.keyId],
              ["Name", key.name],
              ["Organization", key.workspaceId],
              ["Created", formatTime(key.createDate)],
            ]))
              ctx.out.line(line);
          },
          () => key,
        );
        ctx.out.warn(
          `store this secret key now (e.g. in ${ENV.secretKey}): it is shown only once and cannot be retrieved again.`,
        );
      }),
    );
}
