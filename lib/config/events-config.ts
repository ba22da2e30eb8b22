/**
 * The `events` part of the workflow config: where the lifecycle events go besides the SNS events
 * topic. `eventBridge: 'default'` puts them on the account's default bus, `'create'` on a bus the
 * core stack creates (`<system>-<stage>-events`), `false` (the default) nowhere else.
 */
import { z } from 'zod';

export const EVENT_BRIDGE_MODES = ['default', 'create'] as const;
export type EventBridgeMode = (typeof EVENT_BRIDGE_MODES)[number];

const MODE_RULE =
  "use false (SNS topic only), 'default' (the account's default bus) or 'create' (a bus of its own)";

export const eventsConfigSchema = z
  .strictObject(
    {
      /** Deliver the lifecycle events to EventBridge too (docs/contracts.md, "Lifecycle events"). */
      eventBridge: z
        .union([z.literal(false), z.enum(EVENT_BRIDGE_MODES)], {
          error: `events.eventBridge is not a delivery mode; ${MODE_RULE}`,
        })
        .default(false),
    },
    { error: "events must be an object such as { eventBridge: 'create' }" },
  )
  .default({ eventBridge: false });

export type EventsConfig = z.output<typeof eventsConfigSchema>;
