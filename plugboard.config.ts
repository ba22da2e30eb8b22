/**
 * The workflows and activities of this Plugboard deployment, validated when the app is synthesized
 * (`npm run synth`). Every activity gets its own stack, `<system>-<stage>-activity-<name>`, whose
 * exported topics plugins subscribe to. Activities are shared: two workflows may list the same one.
 */
import { defineConfig } from './lib/config/index.js';

export default defineConfig({
  workflows: [
    // The reference workflow: an order is taken in, fulfilled, and the customer is told.
    // Its declared input (all optional) steers the example plugins (examples/plugins/shared.ts); the
    // API checks it on every start and the console generates its start form from it.
    {
      name: 'order',
      activities: ['intake', 'fulfilment', 'notify'],
      input: {
        customer: { type: 'string', description: 'Who ordered' },
        giftWrap: { type: 'boolean', description: 'Dispatch gift-wrap (its filter policy)' },
        failPayment: {
          type: 'string',
          enum: ['once', 'always', 'first-run'],
          description: 'Make charge-payment fail (demo)',
        },
        hangCourier: { type: 'boolean', description: 'Make track-courier never answer (demo)' },
        failReview: { type: 'boolean', description: 'Make the optional request-review fail (demo)' },
      },
    },
  ],
  // Settings per activity, all optional: deadlineSeconds (default 300), maxAttempts (3),
  // retryBaseSeconds (2; doubles with every retry), a description, and parallelBatching for a wide
  // parallel stage: { windowSeconds: 1, batchSize: 100 } gathers up to 100 reports per invocation at
  // the price of up to 1 s more per stage (default: no window, every report handled as it arrives).
  activities: {
    intake: { description: 'Checks and records a new order' },
    fulfilment: { description: 'Reserves stock, takes payment and ships the order' },
    notify: { description: 'Tells the customer what happened' },
  },
  // Stages whose table, key and log groups are destroyed with their stacks (`cdk destroy`).
  // Any other stage keeps them; `--context ephemeral=true|false` overrides this list.
  ephemeralStages: [],
});
