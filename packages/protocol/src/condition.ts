import { Type, type Static } from "typebox";
import { EpochMs } from "./common.js";

export const CONDITION_STATUSES = ["Waiting", "Reached", "FailedReach"] as const;
export type ConditionStatus = (typeof CONDITION_STATUSES)[number];

/** A resource's milestone (`Started`, `Finished`, ...) and whether it was reached. */
export const Condition = Type.Object({
  condition: Type.String(),
  status: Type.Enum(CONDITION_STATUSES),
  lastTransitionTime: EpochMs,
  reason: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
});
export type Condition = Static<typeof Condition>;
