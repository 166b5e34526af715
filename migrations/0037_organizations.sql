CREATE TABLE `organization_members` (
	`org_id` text NOT NULL,
	`user_id` text NOT NULL,
	`assigned_at` integer NOT NULL,
	PRIMARY KEY(`org_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `organization_members_user_idx` ON `organization_members` (`user_id`);--> statement-breakpoint
CREATE TABLE `organizations` (
	`org_id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`billing_email` text NOT NULL,
	`customer_id` text,
	`subscription_id` text,
	`seats` integer NOT NULL,
	`term_months` integer NOT NULL,
	`term_start` integer,
	`term_end` integer,
	`po_number` text,
	`status` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`version` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `organizations_subscription_uq` ON `organizations` (`subscription_id`);--> statement-breakpoint
CREATE INDEX `organizations_customer_idx` ON `organizations` (`customer_id`);--> statement-breakpoint
ALTER TABLE `entitlements` ADD `org_id` text;