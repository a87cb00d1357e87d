import { Type, type Static } from "typebox";
import { CONDITION_STATUSES } from "./constants.js";
import { EpochMs } from "./common.js";

/** A resource's milestone (`Started`, `Finished`, ...) and whether it was reached. */
export const Condition = Type.Object({
  condition: Type.String(),
  status: Type.Enum(CONDITION_STATUSES),
  lastTransitionTime: EpochMs,
  reason: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
});
export type Condition = Static<typeof Condition>;
