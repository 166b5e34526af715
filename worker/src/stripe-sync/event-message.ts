/** What the webhook route puts on the `stripe-events` queue: the verified event, as received. */
export interface EventMessage {
  id: string;
  type: string;
  /** Stripe's `created` (seconds). */
  created: number;
  /** The exact request body the signature covered. */
  payload: string;
  /** When the webhook reached us (ms). */
  received_at: number;
}
