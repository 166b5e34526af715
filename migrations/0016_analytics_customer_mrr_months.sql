CREATE TABLE `customer_mrr_dirty` (
	`customer_id` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `customer_mrr_months` (
	`currency` text NOT NULL,
	`customer_id` text NOT NULL,
	`month` integer NOT NULL,
	`d` integer NOT NULL,
	`closing` integer NOT NULL,
	`paid_change_before` integer
);
--> statement-breakpoint
CREATE INDEX `customer_mrr_months_customer_idx` ON `customer_mrr_months` (`currency`,`customer_id`,`month`,`closing`);--> statement-breakpoint
CREATE INDEX `customer_mrr_months_month_idx` ON `customer_mrr_months` (`currency`,`month`,`d`,`closing`,`paid_change_before`);--> statement-breakpoint
CREATE INDEX `dunning_cases_customer_idx` ON `dunning_cases` (`customer_id`,`subscription_id`);--> statement-breakpoint
CREATE INDEX `subscription_history_customer_idx` ON `subscription_history` (`customer_id`,`subscription_id`);