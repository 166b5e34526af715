CREATE TABLE `marketing_spend` (
	`month` text NOT NULL,
	`currency` text NOT NULL,
	`amount` integer NOT NULL,
	`note` text,
	`updated_at` integer NOT NULL,
	`updated_by` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `marketing_spend_month_uq` ON `marketing_spend` (`month`,`currency`);--> statement-breakpoint
CREATE INDEX `invoices_paid_idx` ON `invoices` (`status`,`paid_at`,`currency`,`total`,`tax`);