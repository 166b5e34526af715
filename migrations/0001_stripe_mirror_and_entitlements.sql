CREATE TABLE `customers` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text,
	`email` text,
	`name` text,
	`country` text,
	`state` text,
	`currency` text,
	`deleted` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`synced_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `customers_user_idx` ON `customers` (`user_id`);--> statement-breakpoint
CREATE TABLE `entitlements` (
	`user_id` text PRIMARY KEY NOT NULL,
	`customer_id` text,
	`subscription_id` text,
	`tier` text,
	`status` text NOT NULL,
	`trial_end` integer,
	`grace_until` integer,
	`suspended_at` integer,
	`current_period_end` integer,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `invoices` (
	`id` text PRIMARY KEY NOT NULL,
	`customer_id` text NOT NULL,
	`subscription_id` text,
	`user_id` text,
	`status` text NOT NULL,
	`billing_reason` text,
	`currency` text NOT NULL,
	`subtotal` integer NOT NULL,
	`tax` integer NOT NULL,
	`discount_total` integer NOT NULL,
	`total` integer NOT NULL,
	`amount_due` integer NOT NULL,
	`amount_paid` integer NOT NULL,
	`amount_remaining` integer NOT NULL,
	`attempt_count` integer NOT NULL,
	`period_start` integer,
	`period_end` integer,
	`hosted_invoice_url` text,
	`created_at` integer NOT NULL,
	`paid_at` integer,
	`synced_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `invoices_customer_idx` ON `invoices` (`customer_id`);--> statement-breakpoint
CREATE INDEX `invoices_subscription_idx` ON `invoices` (`subscription_id`);--> statement-breakpoint
CREATE INDEX `invoices_status_idx` ON `invoices` (`status`,`created_at`);--> statement-breakpoint
CREATE TABLE `payment_attempts` (
	`id` text PRIMARY KEY NOT NULL,
	`invoice_id` text NOT NULL,
	`customer_id` text NOT NULL,
	`at` integer NOT NULL,
	`outcome` text NOT NULL,
	`amount` integer NOT NULL,
	`currency` text NOT NULL,
	`attempt` integer NOT NULL,
	`decline_code` text,
	`failure_code` text
);
--> statement-breakpoint
CREATE INDEX `payment_attempts_invoice_idx` ON `payment_attempts` (`invoice_id`,`at`);--> statement-breakpoint
CREATE TABLE `subscription_history` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`subscription_id` text NOT NULL,
	`customer_id` text NOT NULL,
	`user_id` text,
	`at` integer NOT NULL,
	`status` text NOT NULL,
	`tier` text,
	`price_id` text NOT NULL,
	`unit_amount` integer NOT NULL,
	`currency` text NOT NULL,
	`quantity` integer NOT NULL,
	`discount` text,
	`mrr` integer NOT NULL,
	`changes` text NOT NULL,
	`cause` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `subscription_history_sub_idx` ON `subscription_history` (`subscription_id`,`at`);--> statement-breakpoint
CREATE INDEX `subscription_history_at_idx` ON `subscription_history` (`at`);--> statement-breakpoint
CREATE TABLE `subscriptions` (
	`id` text PRIMARY KEY NOT NULL,
	`customer_id` text NOT NULL,
	`user_id` text,
	`status` text NOT NULL,
	`tier` text,
	`price_id` text NOT NULL,
	`lookup_key` text,
	`interval` text NOT NULL,
	`interval_count` integer DEFAULT 1 NOT NULL,
	`unit_amount` integer NOT NULL,
	`currency` text NOT NULL,
	`quantity` integer DEFAULT 1 NOT NULL,
	`discount` text,
	`mrr` integer NOT NULL,
	`cancel_at_period_end` integer DEFAULT false NOT NULL,
	`canceled_at` integer,
	`ended_at` integer,
	`trial_start` integer,
	`trial_end` integer,
	`current_period_start` integer,
	`current_period_end` integer,
	`created_at` integer NOT NULL,
	`synced_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `subscriptions_customer_idx` ON `subscriptions` (`customer_id`);--> statement-breakpoint
CREATE INDEX `subscriptions_user_idx` ON `subscriptions` (`user_id`);--> statement-breakpoint
CREATE INDEX `subscriptions_status_idx` ON `subscriptions` (`status`);