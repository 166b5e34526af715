CREATE TABLE `customer_current` (
	`customer_id` text NOT NULL,
	`currency` text NOT NULL,
	`tier` text NOT NULL,
	`mrr` integer NOT NULL,
	`standing` integer NOT NULL,
	PRIMARY KEY(`customer_id`, `currency`, `tier`)
);
--> statement-breakpoint
CREATE INDEX `customer_current_currency_idx` ON `customer_current` (`currency`,`customer_id`,`mrr`,`standing`,`tier`);--> statement-breakpoint
CREATE TABLE `invoice_revenue_months` (
	`currency` text NOT NULL,
	`month` integer NOT NULL,
	`revenue` integer NOT NULL,
	`invoices` integer NOT NULL,
	PRIMARY KEY(`currency`, `month`)
);
--> statement-breakpoint
DROP INDEX `invoices_paid_idx`;