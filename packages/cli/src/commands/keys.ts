import type { Command } from "commander";
import { ENV } from "../client-options.js";
import { actionOf, type ResolvedDeps, type RunState } from "../context.js";
import { CliInterruptedError, CliUsageError } from "../exit-codes.js";
import { renderDetails, renderTable, formatTime } from "../output.js";
import { compact } from "../parse.js";

interface CreateKeyOptions {
  name?: string;
}

interface RevokeKeyOptions {
  yes?: boolean;
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

  keys
    .command("list")
    .description("list the organization's secret keys (ids and names; the keys themselves are never shown again)")
    .action(
      actionOf<object>(deps, state, async (ctx) => {
        const list = await ctx.client().organizations.listKeys({ signal: ctx.signal });
        ctx.out.result(
          () => {
            for (const line of renderTable(
              [
                { header: "KEY ID", get: (k) => k.keyId },
                { header: "NAME", get: (k) => k.name },
                { header: "CREATED", get: (k) => formatTime(k.createDate) },
                { header: "", get: (k) => (k.current ? "(this key)" : "") },
              ],
              list,
            ))
              ctx.out.line(line);
          },
          () => list,
        );
      }),
    );

  keys
    .command("revoke")
    .description("revoke a secret key: every request made with it fails from now on")
    .argument("<keyId>", "the key's id (see keys list)")
    .option("-y, --yes", "do not ask for confirmation (required when stdin is not a terminal)")
    .action(
      actionOf<RevokeKeyOptions>(deps, state, async (ctx, opts, args) => {
        const [keyId] = args as [string];
        if (!opts.yes) {
          if (!ctx.deps.isInteractive())
            throw new CliUsageError(
              `refusing to revoke key ${keyId} without confirmation: stdin is not a terminal`,
              "pass --yes to revoke without asking",
            );
          const ok = await ctx.deps.confirm(`Revoke secret key ${keyId}? Clients using it will stop working.`);
          if (!ok) throw new CliInterruptedError("revocation cancelled: the key still works");
        }
        const revoked = await ctx.client().organizations.revokeKey({ keyId, signal: ctx.signal });
        ctx.out.result(
          () => ctx.out.line(`Revoked secret key ${revoked.keyId}`),
          () => revoked,
        );
      }),
    );
}
