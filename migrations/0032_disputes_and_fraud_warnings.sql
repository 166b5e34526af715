CREATE TABLE `disputes` (
	`id` text PRIMARY KEY NOT NULL,
	`charge_id` text NOT NULL,
	`invoice_id` text,
	`subscription_id` text,
	`customer_id` text,
	`user_id` text,
	`amount` integer NOT NULL,
	`currency` text NOT NULL,
	`reason` text NOT NULL,
	`status` text NOT NULL,
	`fee` integer DEFAULT 0 NOT NULL,
	`evidence_due_by` integer,
	`evidence_submitted` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`closed_at` integer,
	`synced_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `disputes_user_idx` ON `disputes` (`user_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `disputes_created_idx` ON `disputes` (`created_at`);--> statement-breakpoint
CREATE INDEX `disputes_status_idx` ON `disputes` (`status`,`created_at`);--> statement-breakpoint
CREATE TABLE `early_fraud_warnings` (
	`id` text PRIMARY KEY NOT NULL,
	`charge_id` text NOT NULL,
	`invoice_id` text,
	`subscription_id` text,
	`customer_id` text,
	`user_id` text,
	`fraud_type` text NOT NULL,
	`actionable` integer NOT NULL,
	`created_at` integer NOT NULL,
	`actioned_at` integer,
	`synced_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `early_fraud_warnings_created_idx` ON `early_fraud_warnings` (`created_at`);--> statement-breakpoint
CREATE INDEX `early_fraud_warnings_charge_idx` ON `early_fraud_warnings` (`charge_id`);