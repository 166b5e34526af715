CREATE TABLE `credit_notes` (
	`id` text PRIMARY KEY NOT NULL,
	`invoice_id` text NOT NULL,
	`customer_id` text NOT NULL,
	`user_id` text,
	`number` text,
	`status` text NOT NULL,
	`amount` integer NOT NULL,
	`refund_amount` integer NOT NULL,
	`currency` text NOT NULL,
	`reason` text,
	`created_at` integer NOT NULL,
	`synced_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `credit_notes_invoice_idx` ON `credit_notes` (`invoice_id`);--> statement-breakpoint
CREATE TABLE `refunds` (
	`id` text PRIMARY KEY NOT NULL,
	`charge_id` text NOT NULL,
	`invoice_id` text,
	`subscription_id` text,
	`credit_note_id` text,
	`customer_id` text,
	`user_id` text,
	`amount` integer NOT NULL,
	`currency` text NOT NULL,
	`status` text NOT NULL,
	`reason` text,
	`created_at` integer NOT NULL,
	`synced_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `refunds_user_idx` ON `refunds` (`user_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `refunds_invoice_idx` ON `refunds` (`invoice_id`);--> statement-breakpoint
CREATE INDEX `refunds_created_idx` ON `refunds` (`created_at`);--> statement-breakpoint
ALTER TABLE `invoices` ADD `amount_credited` integer DEFAULT 0 NOT NULL;