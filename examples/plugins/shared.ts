/**
 * What the example plugins share: how a run's metadata steers them. One deployment of the examples
 * serves every demo and end-to-end case, because each behaviour is chosen per run:
 *
 * | metadata key     | values                  | effect                                                        |
 * | ---------------- | ----------------------- | ------------------------------------------------------------- |
 * | `rejectOrder`    | `true`                  | validate-order fails finally (PluginError): the run fails     |
 * | `failPayment`    | `'once'` \| `'always'` \| `'first-run'` | charge-payment fails its first attempt, every attempt, or every attempt of the first run (a rerun succeeds) |
 * | `giftWrap`       | `true`                  | gift-wrap is dispatched (its filter policy excludes it otherwise) |
 * | `failReview`     | `true`                  | request-review (optional) fails: the run still completes     |
 * | `failStock`      | `'twice'`               | reserve-stock fails its first two attempts (retryable) and succeeds on the third |
 * | `hangCourier`    | `true`                  | track-courier (optional) never answers and is timed out       |
 * | `failLoyalty`    | `true`                  | loyalty-points (optional, behind the queue bridge) fails      |
 */
import type { PluginMessage } from '../../plugin-kit/src/index.js';

/** The short deadline every example plugin declares (time from dispatch to the final report, cold start included). */
export const EXAMPLE_DEADLINE_SECONDS = 10;

/** A metadata value of the run, or `undefined`. */
export function flag(message: PluginMessage, key: string): unknown {
  return message.metadata[key];
}

/** Resolves after `ms` milliseconds (stands in for real work). */
export const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
