/**
 * The two things a plugin runtime does with AWS: send SQS messages (reports, and the queue bridge's
 * forward) and read the status table. Wrappers take these ports through their options, so tests (and
 * the testing harness) run without AWS; the defaults are the SDK v3 adapters in this folder.
 */

/** One SQS message to send. */
export interface OutgoingMessage {
  readonly queueUrl: string;
  readonly body: string;
  /** FIFO queues only. */
  readonly messageGroupId?: string;
  /** FIFO queues only. */
  readonly messageDeduplicationId?: string;
  /** String message attributes. */
  readonly messageAttributes?: Readonly<Record<string, string>>;
}

/** Sends one SQS message; rejects when it was not accepted. */
export interface MessageSender {
  send(message: OutgoingMessage): Promise<void>;
}

/** The primary key of a status table item (attribute names from TABLE_LAYOUT). */
export interface StatusItemKey {
  readonly pk: string;
  readonly sk: string;
}

/** Read-only access to the status table: items come back as plain objects (already unmarshalled). */
export interface StatusItemStore {
  getItem(request: {
    readonly tableName: string;
    readonly key: StatusItemKey;
    readonly consistentRead: boolean;
  }): Promise<Record<string, unknown> | undefined>;
  /** Every item of the partition `pk` whose sort key begins with `skPrefix` (all pages). */
  query(request: {
    readonly tableName: string;
    readonly pk: string;
    readonly skPrefix: string;
    readonly consistentRead: boolean;
  }): Promise<Record<string, unknown>[]>;
}
