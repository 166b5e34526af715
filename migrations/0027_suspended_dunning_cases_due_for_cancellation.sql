-- Cases suspended while the policy kept a suspended subscription past_due have no next action,
-- so the tick would never reach them and Stripe would go on invoicing them. Make each due once
-- (at its suspension): the tick then schedules or makes its cancellation under the policy in
-- force, or, when that policy keeps it past_due, leaves it without a next action again.
UPDATE `dunning_cases` SET `next_action_at` = `closed_at` WHERE `status` = 'suspended' AND `next_action_at` IS NULL AND `closed_at` IS NOT NULL;
